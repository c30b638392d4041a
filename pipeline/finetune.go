package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/finetune"
	"github.com/multilabel/multilabel/head"
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
	// Tuning says how the fine-tuned model's thresholds were chosen.
	Tuning ThresholdInfo
	// FineTuneSeconds is the second stage's wall time (prefix passes included).
	FineTuneSeconds float64
	// Scores, Truth and TestPaths are the fine-tuned model's test (or, without a test
	// set, validation) scores, for reports.
	Scores    [][]float32
	Truth     [][]int8
	TestPaths []string
	// Calibration is the fine-tuned head's temperature fit (nil without --calibrate).
	Calibration *Calibration
	// Refit describes the refit on train+validation (nil without TrainConfig.Refit);
	// Bundle, Test and Scores are then the refit model's, Val the selection's.
	Refit *RefitInfo
}

// AsTrainResult returns the fine-tuned model as a TrainResult (for printing and
// reports): the fine-tuned bundle, metrics and scores, with the first stage's head
// training record, splits and feature-extraction figures.
func (r *FineTuneResult) AsTrainResult() *TrainResult {
	t := *r.Probe
	t.Bundle, t.Val, t.Test, t.Tuning = r.Bundle, r.Val, r.Test, r.Tuning
	t.Scores, t.Truth, t.TestPaths = r.Scores, r.Truth, r.TestPaths
	t.Calibration = r.Calibration
	t.Refit = r.Refit
	t.TrainSeconds += r.FineTuneSeconds
	return &t
}

// FineTune trains as Train does (the head on frozen features: the first stage, the
// linear probe), then unfreezes the last blocks of the backbone and trains them with
// the head (package finetune) on the same split, re-tunes the thresholds on the
// validation set, evaluates on the test set and writes the bundle: one backbone graph
// with the trained weights written back, the trained head. The data, the backbone, the
// inference engine and the frozen features are prepared once for both stages; the
// fine-tuned model's validation and test scores come from the fine-tuning itself.
func FineTune(ctx context.Context, cfg TrainConfig, ft finetune.Config) (*FineTuneResult, error) {
	ft.Seed = cfg.Seed
	if err := ft.Validate(); err != nil {
		return nil, errkind.WrapBadInput(err)
	}
	if p, err := backbone.ParsePool(cfg.Pool); err != nil || p != backbone.PoolAvg {
		return nil, errkind.WrapBadInput(fmt.Errorf("fine-tuning pools by the average only (got --pool %q); train the head alone for other poolings", cfg.Pool))
	}
	if cfg.Features != "" {
		return nil, errkind.BadInput("fine-tuning reads the images through the backbone: it cannot start from --features %s (drop --unfreeze or --features)", cfg.Features)
	}
	if cfg.RandomBackbone {
		return nil, errkind.BadInput("fine-tuning a random backbone is not supported (drop --random-backbone)")
	}
	if cfg.Train.Head == head.Attention {
		return nil, errkind.BadInput("fine-tuning trains a linear or mlp head with the backbone; the attention head trains on frozen maps only (drop --unfreeze or choose --head linear|mlp|auto)")
	}
	if len(cfg.FeatureViews) > 0 {
		return nil, errkind.BadInput("--feature-views augments the cached frozen features a head trains on; fine-tuning computes its own augmented views (--augment): drop --feature-views or --unfreeze")
	}
	cfg.vectorOnly = true // --head auto: linear or mlp
	r, err := prepare(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	if r.cfg.CalibFolds > 0 {
		// Out-of-fold heads would need the whole network retrained per fold.
		r.log.Warn("fine-tune: --calib-folds applies to head training only; the fine-tuned head is calibrated and thresholded on the validation share", "calib_folds", r.cfg.CalibFolds)
		r.cfg.CalibFolds = 0
	}
	if err := r.fitHead(ctx); err != nil {
		return nil, err
	}
	// The probe is not calibrated: fine-tuning starts from its head as trained; the
	// fine-tuned head is calibrated below.
	r.cfg.Calibrate = false
	if err := r.finalizeProbe(""); err != nil {
		return nil, err
	}
	r.cfg.Calibrate = cfg.Calibrate
	probe, pb := r.probe, r.probe.Bundle
	r.close() // the stage below opens its own engine on the frozen prefix

	data := finetune.Data{Train: r.sets[0].images, TrainY: r.sets[0].y, Val: r.sets[1].images, ValY: r.sets[1].y,
		Test: r.sets[2].images}
	t0 := time.Now()
	ftr, err := finetune.Run(ctx, r.feat, pb.Spec, pb.Head, data, ft, finetune.Options{Engine: r.engineOptions(), Progress: r.cfg.Progress, Logger: r.log})
	if err != nil {
		return nil, err // finetune's errors say "finetune: ..." already
	}
	res := &FineTuneResult{Probe: probe, FineTune: ftr, FineTuneSeconds: time.Since(t0).Seconds()}
	// The fine-tuned scores of the images fine-tuning could read; an image it could not
	// read (none, normally: the probe's features came from the same files) is dropped.
	k := len(pb.Labels)
	logits := [3][]float32{1: ftr.ValLogits, 2: ftr.TestLogits}
	oks := [3][]bool{1: ftr.ValOK, 2: ftr.TestOK}
	for part := 1; part <= 2; part++ {
		kept, n := keepOK(r.sets[part], oks[part])
		if n != len(r.sets[part].y) {
			r.log.Warn("fine-tune: images unreadable in the second stage left out of the metrics", "split", []string{"", "val", "test"}[part], "count", len(r.sets[part].y)-n)
		}
		r.sets[part] = kept
	}
	r.split.Val, r.split.Test = len(r.sets[1].y), len(r.sets[2].y)
	score := func(part int) [][]float32 { return model.ScoresFromLogits(logits[part], len(r.sets[part].y), k) }

	b := &bundle.Bundle{Backbone: ftr.FeatureModel, BackboneInfo: pb.BackboneInfo, Head: ftr.Head, Labels: pb.Labels, Spec: pb.Spec}
	cal, err := r.calibrateLogits(b, &logits)
	if err != nil {
		return nil, err
	}
	var probeRec any
	if err := json.Unmarshal(pb.Training, &probeRec); err != nil {
		return nil, fmt.Errorf("fine-tune: probe training record: %w", err)
	}
	rec := map[string]any{"probe": probeRec, "finetune": ftr}
	if cal != nil {
		rec["calibration"] = cal
	}
	extra := map[string]*metric.Result{"probe_val": probe.Val, "probe_test": probe.Test}
	out := r.cfg.Out
	if r.cfg.Refit {
		out = ""
	}
	fin, err := r.finalize("fine-tune", b, append([]float64(nil), pb.Thresholds...), score, rec, extra, out)
	if err != nil {
		return nil, err
	}
	res.Bundle, res.Val, res.Test, res.Tuning = b, fin.val, fin.test, fin.tuning
	res.Scores, res.Truth, res.TestPaths = fin.scores, fin.truth, fin.paths
	res.Calibration = cal
	if r.cfg.Refit {
		t1 := time.Now()
		if err := r.refitFineTune(ctx, res, rec, extra); err != nil {
			return nil, err
		}
		res.FineTuneSeconds += time.Since(t1).Seconds()
	}
	return res, nil
}

// refitFineTune replaces res's model by one refit on train+validation: the head on the
// frozen features for the probe's chosen epochs, then (when fine-tuning beat its start
// on validation) the unfrozen blocks with it for the fine-tuning's chosen epochs. The
// selection's thresholds, decision rule and temperatures are kept; the test share
// measures the refit model; the bundle is written to TrainConfig.Out.
func (r *run) refitFineTune(ctx context.Context, res *FineTuneResult, rec map[string]any, extra map[string]*metric.Result) error {
	t0 := time.Now()
	sel, ftr := res.Bundle, res.FineTune
	all := r.trainAndVal()
	fit, err := r.refitHeadOn(ctx, res.Probe.Fit, all)
	if err != nil {
		return err
	}
	info := &RefitInfo{Images: len(all.y), HeadEpochs: fit.BestEpoch, HeadEMA: fit.UsedEMA, Backend: fit.Backend,
		FineTuneEpochs: ftr.BestEpoch, SelectedTest: res.Test}
	b := &bundle.Bundle{Backbone: r.feat, BackboneInfo: sel.BackboneInfo, Head: fit.Head, Labels: sel.Labels, Spec: sel.Spec,
		Thresholds: append([]float64(nil), sel.Thresholds...), Decision: sel.Decision}
	n, k := len(r.sets[2].y), len(sel.Labels)
	var logits []float32
	if ftr.BestEpoch == 0 {
		r.log.Info("refit: fine-tuning did not beat its start on validation; refitting the head only")
		if n > 0 {
			logits = fit.Head.Logits(r.sets[2].x, n)
		}
	} else {
		fc := ftr.Config
		fc.Epochs, fc.Patience = ftr.BestEpoch, 0
		if fc.Checkpoint != "" {
			fc.Checkpoint += ".refit"
		}
		r.log.Info("refit: fine-tuning on train+validation", "images", len(all.y), "epochs", fc.Epochs)
		data := finetune.Data{Train: all.images, TrainY: all.y, Test: r.sets[2].images}
		rf, err := finetune.Run(ctx, r.feat, sel.Spec, fit.Head, data, fc, finetune.Options{Engine: r.engineOptions(), Progress: r.cfg.Progress, Logger: r.log})
		if err != nil {
			return fmt.Errorf("refit: %w", err)
		}
		kept, m := keepOK(r.sets[2], rf.TestOK)
		if m != n {
			r.log.Warn("refit: test images unreadable in the refit left out of the metrics", "count", n-m)
			r.sets[2], n = kept, m
		}
		b.Backbone, b.Head, logits = rf.FeatureModel, rf.Head, rf.TestLogits
		info.FineTune = rf
	}
	if res.Calibration != nil {
		sa, sb := res.Calibration.affine()
		h := b.Head.Clone()
		affineHead(h, sa, sb)
		b.Head = *h
		logits = affineLogits(logits, k, sa, sb)
	}
	var scores [][]float32
	if n > 0 {
		scores = model.ScoresFromLogits(logits, n, k)
	}
	info.Seconds = time.Since(t0).Seconds()
	rec["refit"] = info
	ex := map[string]*metric.Result{"selected_test": res.Test}
	for key, m := range extra {
		ex[key] = m
	}
	test, err := r.finalizeFixed("refit", b, scores, rec, ex, res.Val, r.cfg.Out)
	if err != nil {
		return err
	}
	res.Bundle, res.Test, res.Refit = b, test, info
	if test != nil {
		res.Scores, res.Truth, res.TestPaths = scores, r.sets[2].y, r.sets[2].images
	}
	r.logRefit(info, test)
	return nil
}

// keepOK returns the samples of s whose ok entry is true (all of them when ok is nil)
// and how many there are.
func keepOK(s samples, ok []bool) (samples, int) {
	if ok == nil {
		return s, len(s.y)
	}
	var out samples
	dim := 0
	if len(s.y) > 0 {
		dim = len(s.x) / len(s.y)
	}
	for i, good := range ok {
		if good {
			out.x = append(out.x, s.x[i*dim:(i+1)*dim]...)
			out.y = append(out.y, s.y[i])
			out.images = append(out.images, s.images[i])
		}
	}
	return out, len(out.y)
}
