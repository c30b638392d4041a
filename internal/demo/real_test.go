package demo

import (
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCheckMethods(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

// TestRealReportContent renders the report of a real-data result (made-up figures,
// images read from files for the gallery).
func TestRealReportContent(t *testing.T) {
	t.Parallel()
	r := fakeResult()
	dir := t.TempDir()
	var paths []string
	var truth [][]int8
	for i, s := range r.test {
		p := filepath.Join(dir, fmt.Sprintf("img%d.png", i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, s.Image); err != nil {
			t.Fatal(err)
		}
		f.Close()
		paths = append(paths, p)
		truth = append(truth, s.Truth)
	}
	os.WriteFile(paths[1], []byte("not an image"), 0o644) // skipped in the gallery
	for i := range r.Rows {
		r.Rows[i].truth, r.Rows[i].paths = truth, paths
	}
	r.test, r.real, r.DataDir = nil, true, "labels.csv"
	page, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	p := string(page)
	for _, want := range []string{"on real data", "labels.csv", ScratchLabel, "img0.png", "img2.png", "data:image/png;base64,",
		"Positives per label in the data set", "thresholds tuned on the validation set"} {
		if !strings.Contains(p, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(p, "img1.png") {
		t.Error("an undecodable image made it into the gallery")
	}
}
