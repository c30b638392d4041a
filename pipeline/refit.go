package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/finetune"
	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/train"
)

// RefitInfo describes the refit of TrainConfig.Refit: what was trained on the training
// and validation images together, and how the selection model (trained on the training
// images only, whose thresholds the refit model keeps) did on the test share.
type RefitInfo struct {
	// Images is the number of images the refit trained on (train + validation).
	Images int `json:"images"`
	// HeadEpochs is the head's number of epochs (the selection's best epoch) and
	// HeadEMA whether the refit head holds the moving average of its weights (as the
	// selected head did).
	HeadEpochs int  `json:"head_epochs"`
	HeadEMA    bool `json:"head_ema"`
	// FineTuneEpochs is the fine-tuning's number of epochs (the selection's best
	// epoch; 0: fine-tuning did not beat its start on validation, so only the head was
	// refit, on the frozen backbone). FineTune is the refit fine-tuning's record.
	FineTuneEpochs int              `json:"finetune_epochs,omitempty"`
	FineTune       *finetune.Result `json:"finetune,omitempty"`
	// Backend is the head training backend of the refit.
	Backend string `json:"backend,omitempty"`
	// Seconds is the refit's wall time.
	Seconds float64 `json:"seconds"`
	// SelectedTest is the selection model's test metrics at the same thresholds (nil
	// without a test share): what the refit is compared with.
	SelectedTest *metric.Result `json:"selected_test,omitempty"`
}

// trainAndVal returns the training and validation samples as one set.
func (r *run) trainAndVal() samples {
	var all samples
	for _, s := range r.sets[:2] {
		all.x = append(all.x, s.x...)
		all.y = append(all.y, s.y...)
		all.images = append(all.images, s.images...)
	}
	return all
}

// refitHeadOn trains the head afresh on the frozen features of train+validation for
// the number of epochs fit chose, with no validation (the last epoch is kept: the
// moving average when fit's choice was the moving average, the raw weights otherwise).
func (r *run) refitHeadOn(ctx context.Context, fit *train.Result, all samples) (*train.Result, error) {
	tc := r.cfg.Train
	tc.Epochs = max(fit.BestEpoch, 1)
	tc.Patience = 0
	if !fit.UsedEMA {
		tc.EMA = 0
	}
	if tc.Checkpoint != "" {
		tc.Checkpoint += ".refit"
	}
	r.log.Info("refit: training the head on train+validation", "images", len(all.y), "epochs", tc.Epochs, "ema", fit.UsedEMA)
	cb, finish := r.headCallbacks("refit")
	res, err := train.Fit(ctx, tc, all.x, all.y, nil, nil, r.dim, cb)
	finish()
	if err != nil {
		return nil, fmt.Errorf("refit: %w", err)
	}
	return res, nil
}

// refitProbe replaces the probe's bundle by a head refit on train+validation, keeping
// the selection's thresholds, decision rule and temperatures, measures it on the test
// share and writes it to out when set.
func (r *run) refitProbe(ctx context.Context, out string) error {
	t0 := time.Now()
	sel := r.probe.Bundle
	all := r.trainAndVal()
	fit, err := r.refitHeadOn(ctx, r.probe.Fit, all)
	if err != nil {
		return err
	}
	h := fit.Head
	if r.probe.Calibration != nil {
		sa, sb := r.probe.Calibration.affine()
		affineHead(&h, sa, sb)
	}
	b := &bundle.Bundle{Backbone: sel.Backbone, BackboneInfo: sel.BackboneInfo, Head: h, Labels: sel.Labels, Spec: sel.Spec,
		Thresholds: append([]float64(nil), sel.Thresholds...), Decision: sel.Decision}
	info := &RefitInfo{Images: len(all.y), HeadEpochs: fit.BestEpoch, HeadEMA: fit.UsedEMA, Backend: fit.Backend,
		SelectedTest: r.probe.Test}
	var scores [][]float32
	if len(r.sets[2].y) > 0 {
		scores = model.ScoresFromFeatures(b, r.sets[2].x, len(r.sets[2].y))
	}
	info.Seconds = time.Since(t0).Seconds()
	rec := r.probeRec
	rec.Refit = info
	test, err := r.finalizeFixed("refit", b, scores, rec, map[string]*metric.Result{"selected_test": r.probe.Test}, r.probe.Val, out)
	if err != nil {
		return err
	}
	res := r.probe
	res.Bundle, res.Test, res.Refit = b, test, info
	if test != nil {
		res.Scores, res.Truth, res.TestPaths = scores, r.sets[2].y, r.sets[2].images
	}
	res.TrainSeconds += info.Seconds
	res.Thresholds += " (by the validation-selected model; kept for the refit)"
	r.logRefit(info, test)
	return nil
}

// logRefit logs the refit's test mAP next to the selection model's.
func (r *run) logRefit(info *RefitInfo, test *metric.Result) {
	if test != nil && info.SelectedTest != nil {
		r.log.Info("refit: test mAP", "selected", info.SelectedTest.MAP, "refit", test.MAP, "seconds", info.Seconds)
	}
}

// finalizeFixed is finalize for a model whose thresholds (b.Thresholds, b.Decision)
// were chosen already: it evaluates the test scores (none without a test share) at
// them, records the training record and the metrics (val: the selection's validation
// metrics, plus extra) in b, and writes b to out when set (else validates it).
func (r *run) finalizeFixed(stage string, b *bundle.Bundle, testScores [][]float32, training any, extra map[string]*metric.Result, val *metric.Result, out string) (*metric.Result, error) {
	var test *metric.Result
	var err error
	if len(r.sets[2].y) > 0 {
		if test, err = metric.Evaluate(testScores, r.sets[2].y, b.Labels, metric.Options{Thresholds: b.Thresholds}); err != nil {
			return nil, fmt.Errorf("%s: test metrics: %w", stage, err)
		}
	}
	if err := r.recordAndSave(stage, b, training, extra, val, test, out); err != nil {
		return nil, err
	}
	return test, nil
}
