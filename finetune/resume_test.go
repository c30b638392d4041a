package finetune_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/finetune"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// smallRun prepares a small fine-tuning problem on MIML photos: 48 training and 16
// validation images, SqueezeNet's feature graph and a fresh linear head.
func smallRun(t *testing.T) ([]byte, imageio.Spec, head.Params, finetune.Data, auto.Options) {
	t.Helper()
	b, fm := finetune.SqueezeFeaturesForTest(t)
	data := sharedtest.Dir(t, "data/miml-scenes")
	ds, err := dataset.Load(filepath.Join(data, "labels_onehot.csv"), dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var d finetune.Data
	for i, s := range ds.Samples[:64] {
		if i < 48 {
			d.Train, d.TrainY = append(d.Train, s.Path), append(d.TrainY, s.Truth)
		} else {
			d.Val, d.ValY = append(d.Val, s.Path), append(d.ValY, s.Truth)
		}
	}
	h, err := head.New(head.Linear, b.FeatureDim, 0, len(ds.Labels), 1)
	if err != nil {
		t.Fatal(err)
	}
	return fm, b.Spec, *h, d, auto.Options{ORTLib: sharedtest.FindORTLib()}
}

// TestResume: a run cancelled after its first epoch and resumed from the checkpoint
// ends with exactly the weights of an uninterrupted run (tail weights, AdamW moments and
// the schedule position are all in the checkpoint), with and without an EMA of the
// weights (the average is in the checkpoint too).
func TestResume(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	for _, ema := range []float64{0, 0.9} {
		t.Run(fmt.Sprintf("ema=%v", ema), func(t *testing.T) { testResume(t, ema) })
	}
}

func testResume(t *testing.T, ema float64) {
	fm, spec, h, d, eopt := smallRun(t)
	cfg := finetune.DefaultConfig()
	cfg.Epochs, cfg.BatchSize, cfg.Seed, cfg.EMA = 2, 16, 5, ema
	cfg.Checkpoint = filepath.Join(t.TempDir(), "full.ckpt")
	full, err := finetune.Run(context.Background(), fm, spec, h, d, cfg, finetune.Options{Engine: eopt})
	if err != nil {
		t.Fatal(err)
	}
	if len(full.History) != 3 || full.TailParams != 197184 {
		t.Fatalf("history %d epochs, tail params %d", len(full.History), full.TailParams)
	}

	cfg.Checkpoint = filepath.Join(t.TempDir(), "cut.ckpt")
	ctx, cancel := context.WithCancel(context.Background())
	_, err = finetune.Run(ctx, fm, spec, h, d, cfg, finetune.Options{Engine: eopt, OnEpoch: func(e finetune.Epoch) {
		if e.Epoch == 1 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	cfg.Resume = true
	res, err := finetune.Run(context.Background(), fm, spec, h, d, cfg, finetune.Options{Engine: eopt})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || len(res.History) != 3 {
		t.Fatalf("resumed %v with %d epochs of history", res.Resumed, len(res.History))
	}
	if !bytes.Equal(res.FeatureModel, full.FeatureModel) || maxDiff(res.Head.W1, full.Head.W1) != 0 {
		t.Errorf("resumed run differs from the uninterrupted one (head diff %g)", maxDiff(res.Head.W1, full.Head.W1))
	}
	// Another configuration must not resume from this checkpoint.
	cfg.LR *= 2
	if _, err := finetune.Run(context.Background(), fm, spec, h, d, cfg, finetune.Options{Engine: eopt}); err == nil {
		t.Error("resumed from a checkpoint of another configuration")
	}
}

// TestAugmentedViews: with augmentation, every epoch runs the prefix on fresh views
// (two per image here) and trains on them.
func TestAugmentedViews(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	fm, spec, h, d, eopt := smallRun(t)
	cfg := finetune.DefaultConfig()
	aug := imageio.DefaultAugment()
	cfg.Epochs, cfg.BatchSize, cfg.Augment, cfg.Views = 1, 16, &aug, 2
	res, err := finetune.Run(context.Background(), fm, spec, h, d, cfg, finetune.Options{Engine: eopt})
	if err != nil {
		t.Fatal(err)
	}
	e := res.History[1]
	if !(e.PrefixSeconds > 0) || e.TrainLoss == 0 {
		t.Errorf("epoch 1: prefix %.2fs, loss %v", e.PrefixSeconds, e.TrainLoss)
	}
}
