package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/finetune"
	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/model"
)

// FineTuneResult is the outcome of FineTune.
type FineTuneResult struct {
	// Probe is the first stage: the head trained on frozen features (the linear
	// probe), with its own validation and test metrics.
	Probe *TrainResult
	// FineTune is the second stage's record (history, parameter counts, times).
	FineTune *finetune.Result
	// Bundle holds the fine-tuned backbone graph and head (saved to TrainConfig.Out).
	Bundle *bundle.Bundle
	// Val and Test are the fine-tuned model's metrics, thresholds tuned on validation.
	Val, Test *metric.Result
	// FineTuneSeconds is the second stage's wall time (prefix passes included).
	FineTuneSeconds float64
	// Scores, Truth and TestPaths are the fine-tuned model's test (or, without a test
	// set, validation) scores, for reports.
	Scores    [][]float32
	Truth     [][]int8
	TestPaths []string
}

// AsTrainResult returns the fine-tuned model as a TrainResult (for printing and
// reports): the fine-tuned bundle, metrics and scores, with the first stage's head
// training record, splits and feature-extraction figures.
func (r *FineTuneResult) AsTrainResult() *TrainResult {
	t := *r.Probe
	t.Bundle, t.Val, t.Test = r.Bundle, r.Val, r.Test
	t.Scores, t.Truth, t.TestPaths = r.Scores, r.Truth, r.TestPaths
	t.TrainSeconds += r.FineTuneSeconds
	return &t
}

// FineTune trains as Train does (the head on frozen features: the first stage, the
// linear probe), then unfreezes the last blocks of the backbone and trains them with
// the head (package finetune) on the same seeded split, re-tunes the thresholds on the
// validation set, evaluates on the test set and writes the bundle: one backbone graph
// with the trained weights written back, the trained head.
func FineTune(ctx context.Context, cfg TrainConfig, ft finetune.Config) (*FineTuneResult, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	ft.Seed = cfg.Seed
	if err := ft.Validate(); err != nil {
		return nil, errkind.WrapBadInput(err)
	}
	if cfg.RandomBackbone {
		return nil, badInputf("fine-tuning a random backbone is not supported (drop --random-backbone)")
	}
	out := cfg.Out
	cfg.Out = ""
	probe, err := Train(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cfg.Out = out
	trainDS, valDS, testDS, _, err := loadSplits(cfg)
	if err != nil {
		return nil, err
	}
	bad := map[string]bool{}
	for _, b := range probe.BadImages {
		bad[b.Path] = true
	}
	usable := func(d *dataset.Dataset) (paths []string, truth [][]int8) {
		if d == nil {
			return nil, nil
		}
		for i, p := range d.Paths() {
			if !bad[p] {
				paths = append(paths, p)
				truth = append(truth, d.Samples[i].Truth)
			}
		}
		return paths, truth
	}
	var data finetune.Data
	data.Train, data.TrainY = usable(trainDS)
	data.Val, data.ValY = usable(valDS)
	testPaths, testY := usable(testDS)

	kind := cfg.Engine
	if kind == "" {
		kind = auto.KindAuto
	}
	eopt := auto.Options{Kind: kind, ORTLib: cfg.ORTLib, Threads: cfg.Threads, Logger: log}
	t0 := time.Now()
	pb := probe.Bundle
	r, err := finetune.Run(ctx, pb.Backbone, pb.Spec, pb.Head, data, ft, finetune.Options{Engine: eopt, Progress: cfg.Progress, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("fine-tune: %w", err)
	}
	res := &FineTuneResult{Probe: probe, FineTune: r, FineTuneSeconds: time.Since(t0).Seconds()}

	// Thresholds and metrics from the fine-tuned graph as the bundle computes them.
	b := &bundle.Bundle{Backbone: r.FeatureModel, BackboneInfo: pb.BackboneInfo, Head: r.Head, Labels: pb.Labels, Spec: pb.Spec}
	spec := pb.Spec
	fb, err := backbone.LoadBytes(r.FeatureModel, "fine-tuned backbone", backbone.Options{FeatureNode: backbone.FeatureOutput, Spec: &spec})
	if err != nil {
		return nil, fmt.Errorf("fine-tune: %w", err)
	}
	eng, err := auto.Open(r.FeatureModel, eopt)
	if err != nil {
		return nil, fmt.Errorf("fine-tune: open engine: %w", err)
	}
	defer eng.Close()
	paths := append(append([]string(nil), data.Val...), testPaths...)
	fs, err := featcache.Extract(ctx, eng, fb, paths, featcache.ExtractOptions{Progress: cfg.Progress})
	if err != nil {
		return nil, fmt.Errorf("fine-tune: features: %w", err)
	}
	rows := func(lo, hi int, truth [][]int8) ([]float32, [][]int8) {
		var x []float32
		var y [][]int8
		for i := lo; i < hi; i++ {
			if fs.OK[i] {
				x = append(x, fs.Row(i)...)
				y = append(y, truth[i-lo])
			}
		}
		return x, y
	}
	vx, vy := rows(0, len(data.Val), data.ValY)
	tx, ty := rows(len(data.Val), len(paths), testY)
	b.Thresholds = append([]float64(nil), pb.Thresholds...)
	if len(vy) > 0 {
		vs := model.ScoresFromFeatures(b, vx, len(vy))
		if th, err := metric.TuneThresholds(vs, vy, metric.TuneOptions{}); err != nil {
			log.Warn("fine-tune: threshold tuning failed; keeping the probe's", "err", err)
		} else {
			b.Thresholds = th
		}
		if res.Val, err = metric.Evaluate(vs, vy, b.Labels, metric.Options{Thresholds: b.Thresholds}); err != nil {
			return nil, fmt.Errorf("fine-tune: validation metrics: %w", err)
		}
		res.Scores, res.Truth, res.TestPaths = vs, vy, okPaths(data.Val, fs.OK[:len(data.Val)])
	}
	if len(ty) > 0 {
		ts := model.ScoresFromFeatures(b, tx, len(ty))
		if res.Test, err = metric.Evaluate(ts, ty, b.Labels, metric.Options{Thresholds: b.Thresholds}); err != nil {
			return nil, fmt.Errorf("fine-tune: test metrics: %w", err)
		}
		res.Scores, res.Truth, res.TestPaths = ts, ty, okPaths(testPaths, fs.OK[len(data.Val):])
	}

	var probeRec any
	_ = json.Unmarshal(pb.Training, &probeRec)
	if b.Training, err = json.Marshal(map[string]any{"probe": probeRec, "finetune": r}); err != nil {
		return nil, fmt.Errorf("fine-tune: training record: %w", err)
	}
	mets := map[string]*metric.Result{}
	for k, m := range map[string]*metric.Result{"val": res.Val, "test": res.Test, "probe_val": probe.Val, "probe_test": probe.Test} {
		if m != nil {
			mets[k] = m
		}
	}
	if b.Metrics, err = json.Marshal(mets); err != nil {
		return nil, fmt.Errorf("fine-tune: metrics record: %w", err)
	}
	if cfg.Out != "" {
		if err := b.Save(cfg.Out); err != nil {
			return nil, err
		}
		log.Info("fine-tune: wrote bundle", "path", cfg.Out, "id", b.ID)
	} else if err := b.Validate(); err != nil {
		return nil, err
	}
	res.Bundle = b
	return res, nil
}

func okPaths(paths []string, ok []bool) []string {
	var out []string
	for i, p := range paths {
		if ok[i] {
			out = append(out, p)
		}
	}
	return out
}
