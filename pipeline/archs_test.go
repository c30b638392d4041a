package pipeline_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/finetune"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/pipeline"
	"github.com/multilabel/multilabel/train"
)

// TestUnfreezeAllArchs fine-tunes the whole ResNet-18 and MobileNetV2 (torchvision's
// architectures with RANDOM weights, from scripts/make_bench_models.py, at 64x64: batch
// norms with batch statistics, depthwise convolutions, Clip, residual Adds) for one
// epoch on a few images, and checks the bundle predicts what the run measured. It skips
// when the models cannot be generated (no torch).
func TestUnfreezeAllArchs(t *testing.T) {
	if testing.Short() {
		t.Skip("whole-network fine-tuning of ResNet-18 / MobileNetV2: not in -short")
	}
	dir := finetune.BenchModelsDir()
	if err := finetune.MakeBenchModels(context.Background(), "", filepath.Join("..", "scripts"), dir); err != nil {
		t.Skipf("ResNet-18 / MobileNetV2 not available: %v", err)
	}
	for arch, params := range map[string]int64{finetune.ArchResNet18: 11176512, finetune.ArchMobileNetV2: 2223872} {
		t.Run(arch, func(t *testing.T) {
			data := t.TempDir()
			labels, _, err := modeltest.WriteDataset(data, 24, 5)
			if err != nil {
				t.Fatal(err)
			}
			cfg := pipeline.TrainConfig{Data: labels, Backbone: finetune.BenchModel(dir, arch, "-64"), Out: filepath.Join(data, "m.mlb"),
				NoCache: true, Seed: 2, Train: train.DefaultConfig()}
			cfg.Train.Epochs = 3
			ft := finetune.DefaultConfig()
			ft.Unfreeze, ft.Epochs, ft.BatchSize, ft.TrainBN = "all", 1, 8, true
			res, err := pipeline.FineTune(context.Background(), cfg, ft)
			if err != nil {
				t.Fatal(err)
			}
			if f := res.FineTune; f.TailParams != params || len(f.History) != 2 {
				t.Errorf("fine-tuned %d backbone parameters over %d epochs, want %d over 1", f.TailParams, len(f.History)-1, params)
			}
			checkBundleScoresOn(t, "auto", cfg.Out, res.TestPaths, res.Scores)
		})
	}
}
