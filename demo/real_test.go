package demo

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func TestCheckMethods(t *testing.T) {
	got, err := CheckMethods([]string{"fine-tune", " scratch"})
	if err != nil || !reflect.DeepEqual(got, []string{"scratch", "fine-tune"}) {
		t.Errorf("got %v, %v; want table order", got, err)
	}
	if got, err := CheckMethods(nil); err != nil || !reflect.DeepEqual(got, Methods) {
		t.Errorf("nil: got %v, %v", got, err)
	}
	if _, err := CheckMethods([]string{"scratch", "nope"}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("unknown method: %v, want ErrBadConfig", err)
	}
}

func TestRunRealBadConfig(t *testing.T) {
	for name, cfg := range map[string]RealConfig{
		"no data":        {Backbone: "x.onnx"},
		"no backbone":    {Data: "x.csv"},
		"unknown method": {Data: "x.csv", Backbone: "x.onnx", Methods: []string{"magic"}},
		"negative limit": {Data: "x.csv", Backbone: "x.onnx", Limit: -3},
	} {
		if _, err := RunReal(context.Background(), cfg); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v, want ErrBadConfig", name, err)
		}
	}
}
