package train

import (
	"context"
	"reflect"
	"testing"

	"github.com/multilabel/multilabel/sampler"
)

// Every sampler trains deterministically, with as many steps as its epochs' rows
// need, and the configuration it used is in the result.
func TestSamplers(t *testing.T) {
	t.Parallel()
	const dim = 8
	x, y := synthetic(120, dim, []float64{0.5, 0.2, 0.04}, 0.05, 0, 5)
	trX, trY, vaX, vaY := split(x, y, dim, 90)
	for _, kind := range sampler.Kinds {
		cfg := smallCfg()
		cfg.Epochs = 3
		cfg.Sampler = sampler.Config{Kind: kind, RepeatThreshold: 0.2}
		var steps int
		a, err := Fit(context.Background(), cfg, trX, trY, vaX, vaY, dim, Callbacks{OnStep: func(s, total int) { steps = total }})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		b, err := Fit(context.Background(), cfg, trX, trY, vaX, vaY, dim, Callbacks{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a.Head, b.Head) {
			t.Errorf("%s: same seed, different heads", kind)
		}
		s, _ := sampler.New(cfg.Sampler, trY, cfg.Seed)
		want := 0
		for e := 1; e <= 3; e++ {
			want += (len(s.Epoch(uint64(e))) + 15) / 16
		}
		if a.Steps != want || steps != want {
			t.Errorf("%s: %d steps (total announced %d), want %d", kind, a.Steps, steps, want)
		}
		if a.Config.Sampler.Kind != kind || a.Config.Sampler.ROSPercent != sampler.DefaultROSPercent {
			t.Errorf("%s: result config sampler %+v", kind, a.Config.Sampler)
		}
	}
	cfg := smallCfg()
	cfg.Sampler.Kind = "balanced"
	if _, err := Fit(context.Background(), cfg, trX, trY, vaX, vaY, dim, Callbacks{}); err == nil {
		t.Error("unknown sampler accepted")
	}
}
