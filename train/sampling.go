package train

import (
	"fmt"

	"github.com/multilabel/multilabel/sampler"
)

// newSampler sets up the per-epoch visiting order of the configured sampler and the
// number of rows of every epoch (orders are pure functions of the seed and epoch).
func (t *trainer) newSampler(trY [][]int8) error {
	s, err := sampler.New(t.cfg.Sampler, trY, t.cfg.Seed)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	t.order = s
	t.lengths = make([]int, t.cfg.Epochs)
	for e := range t.lengths {
		if t.cfg.Sampler.Kind == sampler.Uniform || t.cfg.Sampler.Kind == "" {
			t.lengths[e] = t.n
		} else {
			t.lengths[e] = len(s.Epoch(uint64(e + 1)))
		}
	}
	return nil
}

// totalSteps is the number of optimisation steps of the whole run.
func (t *trainer) totalSteps() int {
	total := 0
	for _, n := range t.lengths {
		total += (n + t.batch - 1) / t.batch
	}
	return total
}
