package pipeline

import (
	"context"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/finetune"
)

// Test hooks for the external (pipeline_test) tests, which may import modeltest.
var (
	LoadSplitsForTest = func(cfg TrainConfig) (trainDS, valDS, testDS *dataset.Dataset, info SplitInfo, err error) {
		return loadSplits(context.Background(), cfg)
	}
	SizeForTest = size
)

// FineTuneCounted runs FineTune and says how many times it parsed a backbone and
// opened an inference engine.
func FineTuneCounted(ctx context.Context, cfg TrainConfig, ft finetune.Config) (res *FineTuneResult, parses, opens int, err error) {
	c := &counters{}
	cfg.counters = c
	res, err = FineTune(ctx, cfg, ft)
	return res, c.backboneParses, c.engineOpens, err
}

// TrainAndValFeaturesForTest prepares cfg's run (split and features) and returns the
// frozen features of its training and validation images together (what a refit of the
// head trains on) and the feature dimension.
func TrainAndValFeaturesForTest(cfg TrainConfig) ([]float32, int, error) {
	r, err := prepare(context.Background(), cfg)
	if err != nil {
		return nil, 0, err
	}
	defer r.close()
	return r.trainAndVal().x, r.dim, nil
}
