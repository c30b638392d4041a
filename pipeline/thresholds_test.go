package pipeline_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/pipeline"
	"github.com/multilabel/multilabel/train"
)

// TestNoValidationSaysFallback: a split with no validation image (once: exit 0 without a
// word) trains, but says the thresholds were not tuned, in the result and in the log.
func TestNoValidationSaysFallback(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb := synthSet(t, dir, 30, 3, 5)
	var logs bytes.Buffer
	cfg := pipeline.TrainConfig{Data: labels, Backbone: bb, Engine: "go", NoCache: true, Seed: 1,
		Split: []float64{0.7, 0, 0.3}, Train: train.DefaultConfig(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	cfg.Train.Epochs = 3
	res, err := pipeline.Train(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Splits.Val != 0 {
		t.Fatalf("splits %+v, want no validation images", res.Splits)
	}
	if !strings.Contains(res.Thresholds, "not tuned: no validation images") {
		t.Errorf("Thresholds = %q", res.Thresholds)
	}
	if !strings.Contains(logs.String(), "thresholds are not tuned") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}
}
