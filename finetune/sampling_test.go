package finetune

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/multilabel/multilabel/sampler"
)

// The uniform sampler keeps the fine-tuning order and step count; ml-ros grows each
// view's rows by its percent, and the total counts them.
func TestEpochSampler(t *testing.T) {
	t.Parallel()
	y := make([][]int8, 40)
	for i := range y {
		y[i] = []int8{1, 0}
		if i%8 == 0 {
			y[i] = []int8{0, 1}
		}
	}
	cfg := Config{Epochs: 3, Views: 2, Seed: 5}.resolved()
	s, total, err := epochSampler(cfg, y, 16)
	if err != nil {
		t.Fatal(err)
	}
	if total != 3*2*3 || !slices.Equal(s.Epoch(4), rand.New(rand.NewPCG(5, 4)).Perm(40)) {
		t.Errorf("uniform: total %d, want 18, or the order changed", total)
	}
	cfg.Sampler = sampler.Config{Kind: sampler.MLROS, ROSPercent: 50}
	s, total, err = epochSampler(cfg.resolved(), y, 16)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Epoch(0)); n != 60 || total != 3*2*4 {
		t.Errorf("ml-ros 50%%: %d rows per view, total %d; want 60 and 24", n, total)
	}
	cfg.Sampler.Kind = "nope"
	if err := cfg.Validate(); err == nil {
		t.Error("unknown sampler accepted")
	}
}
