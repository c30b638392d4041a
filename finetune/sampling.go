package finetune

import (
	"fmt"

	"github.com/multilabel/multilabel/sampler"
)

// epochSampler builds the configured sampler over the training labels and returns it
// with the run's total step count (each view of each epoch visits the sampler's
// order for key (epoch-1)·views + view; the uniform order has one row per image).
func epochSampler(cfg Config, trainY [][]int8, batch int) (*sampler.Sampler, int, error) {
	s, err := sampler.New(cfg.Sampler, trainY, cfg.Seed)
	if err != nil {
		return nil, 0, fmt.Errorf("finetune: %w", err)
	}
	total := 0
	for k := 0; k < cfg.Epochs*cfg.Views; k++ {
		n := len(trainY)
		if s.Config().Kind != sampler.Uniform {
			n = len(s.Epoch(uint64(k)))
		}
		total += (n + batch - 1) / batch
	}
	return s, total, nil
}
