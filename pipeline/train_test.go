package pipeline

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/train"
)

// TestTrainMIML is the done-when run of issue 5: MIML scenes (1,500 images) with the
// ImageNet-pretrained SqueezeNet 1.1, seeded 80/20 split (70/10/20 train/val/test),
// linear head + BCE, ONNX Runtime features: test mAP >= 0.90. The bundle it writes must
// predict the same scores as the training pipeline computed. Then the asymmetric loss,
// and the transfer gap: the same head on a randomly initialised SqueezeNet must do far
// worse.
func TestTrainMIML(t *testing.T) {
	data := sharedtest.Dir(t, "data/miml-scenes")
	bb := sharedtest.Dir(t, "models/squeezenet1.1")
	lib := sharedtest.ORTLib(t)
	if testing.Short() {
		t.Skip("short mode")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "miml.mlb")
	cfg := TrainConfig{
		Data: filepath.Join(data, "labels_onehot.csv"), Backbone: bb, Out: out,
		Engine: "ort", ORTLib: lib, CacheDir: testCacheDir(dir), Seed: 1,
		Train: train.DefaultConfig(),
	}
	if testing.Verbose() {
		cfg.Progress = os.Stderr
	}
	res, err := Train(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("splits %+v, features %.1fs (%s), train %.1fs, best epoch %d", res.Splits, res.FeatureSeconds, res.Engine, res.TrainSeconds, res.Fit.BestEpoch)
	t.Logf("test mAP %.4f CF1 %.4f OF1 %.4f (val mAP %.4f)", res.Test.MAP, res.Test.CF1, res.Test.OF1, res.Val.MAP)
	if res.Splits.Train+res.Splits.Val+res.Splits.Test != 1500 || res.Splits.Test < 290 || res.Splits.Test > 310 {
		t.Errorf("splits %+v", res.Splits)
	}
	if res.Test.MAP < 0.90 {
		t.Errorf("test mAP %.4f < 0.90", res.Test.MAP)
	}

	// The bundle predicts what training measured.
	m, err := model.LoadWith(out, model.Options{Engine: "ort", ORTLib: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	paths := make([]string, 8)
	for i := range paths {
		paths[i] = res.TestPaths[i]
	}
	preds, err := m.PredictFiles(context.Background(), paths)
	if err != nil {
		t.Fatal(err)
	}
	var maxd float64
	for i, p := range preds {
		if p.Err != nil {
			t.Fatal(p.Err)
		}
		for j, s := range p.Scores {
			maxd = math.Max(maxd, math.Abs(float64(s-res.Scores[i][j])))
		}
	}
	if maxd > 1e-4 {
		t.Errorf("bundle predictions differ from training-time scores by %g", maxd)
	}

	// Variants on the cached features: the asymmetric loss, and the transfer gap (the
	// same head on features of a randomly initialised SqueezeNet 1.1).
	asl := cfg
	asl.Out, asl.Progress = "", nil
	asl.Train.Loss = "asl"
	ra, err := Train(context.Background(), asl)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ASL: test mAP %.4f CF1 %.4f OF1 %.4f", ra.Test.MAP, ra.Test.CF1, ra.Test.OF1)
	if ra.Test.MAP < 0.88 {
		t.Errorf("ASL test mAP %.4f < 0.88", ra.Test.MAP)
	}
	// Calibration and a precision rule fitted on out-of-fold scores of 5 heads over
	// training + validation (1,200 images instead of 150): the test ECE falls, and the
	// thresholds reach about the asked precision on the test share.
	cal := cfg
	cal.Out, cal.Progress = "", nil
	cal.Calibrate, cal.Decision, cal.CalibFolds = true, "precision:0.9", 5
	rc, err := Train(context.Background(), cal)
	if err != nil {
		t.Fatal(err)
	}
	c := rc.Calibration
	if c == nil || c.FitOn != "out-of-fold (5 folds)" || c.FitImages != res.Splits.Train+res.Splits.Val {
		t.Fatalf("calibration %+v, want fitted on %d out-of-fold images", c, res.Splits.Train+res.Splits.Val)
	}
	t.Logf("out-of-fold calibration: temperatures %.3f, test ECE %.4f -> %.4f", c.Temperatures, c.TestECEBefore, c.TestECEAfter)
	if !(c.TestECEAfter < c.TestECEBefore) {
		t.Errorf("test ECE %.4f -> %.4f: not lower after calibration", c.TestECEBefore, c.TestECEAfter)
	}
	pos, valPos := 0, 0
	for j, cv := range rc.Bundle.Decision.Curves {
		pos += cv.Positives()
		valPos += res.Bundle.Decision.Curves[j].Positives()
	}
	if pos < 7*valPos { // 1,200 out-of-fold images against 150 validation ones
		t.Errorf("the stored curves hold %d positives, the validation share %d: not the out-of-fold images'", pos, valPos)
	}
	for _, pc := range rc.Test.PerClass {
		t.Logf("%s: test precision %.3f at precision:0.9 (recall %.3f)", pc.Label, pc.Precision, pc.Recall)
		if pc.Precision < 0.75 {
			t.Errorf("%s: test precision %.3f at precision:0.9", pc.Label, pc.Precision)
		}
	}
	rnd := cfg
	rnd.Out, rnd.RandomBackbone = "", true
	rr, err := Train(context.Background(), rnd)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("random backbone: test mAP %.4f CF1 %.4f OF1 %.4f; transfer gap %.4f mAP", rr.Test.MAP, rr.Test.CF1, rr.Test.OF1, res.Test.MAP-rr.Test.MAP)
	if !rr.Bundle.BackboneInfo.Randomized || res.Test.MAP-rr.Test.MAP < 0.1 {
		t.Errorf("transfer gap %.4f mAP: pretrained features should beat random ones by far", res.Test.MAP-rr.Test.MAP)
	}
}

// testCacheDir is a fresh feature cache, or MULTILABEL_TEST_FEATURE_CACHE when set (to
// iterate quickly on a developer machine).
func testCacheDir(tmp string) string {
	if d := os.Getenv("MULTILABEL_TEST_FEATURE_CACHE"); d != "" {
		return d
	}
	return filepath.Join(tmp, "cache")
}
