package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/calib"
	"github.com/multilabel/multilabel/model/modeltest"
)

func TestTrainSamplerFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 60, 3)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.mlb")
	for name, extra := range map[string][]string{
		"bad sampler":   {"--sampler", "balanced"},
		"bad threshold": {"--sampler", "repeat-factor", "--repeat-threshold", "-1"},
		"bad percent":   {"--sampler", "ml-ros", "--ros-percent", "NaN"},
	} {
		args := append([]string{"train", "--data", labels, "--backbone", bb, "--out", out, "--engine", "go", "--no-cache"}, extra...)
		if code, _ := runModelCmd(t, args...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, exitUsage)
		}
	}
	code, got := runModelCmd(t, "train", "--data", labels, "--backbone", bb, "--out", out, "--engine", "go", "--no-cache",
		"--epochs", "3", "--quiet", "--sampler", "ml-ros", "--ros-percent", "40")
	if code != exitOK {
		t.Fatalf("train --sampler ml-ros: exit %d: %s", code, got)
	}
	b, err := bundle.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b.Training), `"sampler":{"kind":"ml-ros","repeat_threshold":0.001,"ros_percent":40}`) {
		t.Errorf("the training record does not show the sampler: %s", b.Training)
	}
}

func TestTrainDecisionFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 80, 3)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.mlb")
	for _, bad := range []string{"precision:1.5", "topk:2", "best"} {
		if code, _ := runModelCmd(t, "train", "--data", labels, "--backbone", bb, "--out", out, "--engine", "go", "--no-cache",
			"--decision", bad); code != exitUsage {
			t.Errorf("--decision %s: exit %d, want %d", bad, code, exitUsage)
		}
	}
	code, got := runModelCmd(t, "train", "--data", labels, "--backbone", bb, "--out", out, "--engine", "go", "--no-cache",
		"--epochs", "30", "--lr", "0.05", "--quiet", "--decision", "recall:0.99")
	if code != exitOK {
		t.Fatalf("train --decision recall:0.99: exit %d: %s", code, got)
	}
	b, err := bundle.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b.Training), `"decision":"recall:0.99"`) {
		t.Errorf("the training record does not show the decision rule")
	}
	for i, th := range b.Thresholds {
		if !(th > 0 && th < 1) {
			t.Errorf("threshold %d = %v", i, th)
		}
	}
	// The bundle carries the rule, and its curves choose the same thresholds again.
	if b.Decision == nil || b.Decision.Rule != "recall:0.99" || len(b.Decision.Curves) != 3 || len(b.Decision.F1Thresholds) != 3 {
		t.Fatalf("bundle decision %+v", b.Decision)
	}
	again, _, err := calib.FromCurves(calib.Decision{Kind: calib.Recall, Target: 0.99}, b.Decision.Curves, b.Decision.F1Thresholds)
	if err != nil || !slices.Equal(again, b.Thresholds) {
		t.Errorf("thresholds from the stored curves %v (%v), bundle's %v", again, err, b.Thresholds)
	}
}

func TestTrainCalibrateFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 100, 3)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.mlb")
	rep := filepath.Join(dir, "report")
	code, got := runModelCmd(t, "train", "--data", labels, "--backbone", bb, "--out", out, "--engine", "go", "--no-cache",
		"--epochs", "30", "--lr", "0.05", "--quiet", "--calibrate", "temperature", "--decision", "precision:0.9", "--report", rep)
	if code != exitOK {
		t.Fatalf("train --calibrate: exit %d: %s", code, got)
	}
	b, err := bundle.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Calibration *struct {
			Temperatures []float64 `json:"temperatures"`
			Before       float64   `json:"val_ece_before"`
			After        float64   `json:"val_ece_after"`
			FitOn        string    `json:"fit_on"`
			FitImages    int       `json:"fit_images"`
		} `json:"calibration"`
	}
	if err := json.Unmarshal(b.Training, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Calibration == nil || len(rec.Calibration.Temperatures) != 3 {
		t.Fatalf("training record without the calibration: %s", b.Training)
	}
	// --calibrate fits on out-of-fold scores over training + validation by default.
	if rec.Calibration.FitOn != "out-of-fold (5 folds)" || rec.Calibration.FitImages < 70 {
		t.Errorf("calibration fitted on %q (%d images), want out-of-fold (5 folds) over training + validation", rec.Calibration.FitOn, rec.Calibration.FitImages)
	}
	for _, tt := range rec.Calibration.Temperatures {
		if !(tt > 0) {
			t.Errorf("temperature %v", tt)
		}
	}
	if b.Decision == nil || b.Decision.Rule != "precision:0.9" || !slices.Equal(b.Decision.Temperatures, rec.Calibration.Temperatures) {
		t.Errorf("bundle decision %+v", b.Decision)
	}
	// The report shows the reliability diagram and the ECE of each label, before and after.
	page, err := os.ReadFile(filepath.Join(rep, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`data-plot="reliability"`, "ECE before", "ECE after", "<td>green</td>"} {
		if !strings.Contains(string(page), s) {
			t.Errorf("training report lacks %q", s)
		}
	}
	// --calib-folds 0 fits on the validation share; 1 and negative counts are usage errors.
	out0 := filepath.Join(dir, "val.mlb")
	if code, got := runModelCmd(t, "train", "--data", labels, "--backbone", bb, "--out", out0, "--engine", "go", "--no-cache",
		"--epochs", "30", "--lr", "0.05", "--quiet", "--calibrate", "--calib-folds", "0"); code != exitOK {
		t.Fatalf("train --calib-folds 0: exit %d: %s", code, got)
	}
	if b0, err := bundle.Read(out0); err != nil || !strings.Contains(string(b0.Training), `"fit_on":"validation"`) {
		t.Errorf("--calib-folds 0: training record %s (%v), want fit_on validation", b0.Training, err)
	} else if d := b0.Decision; d == nil || d.Calibration != "platt" || len(d.PlattA) != 3 || len(d.PlattB) != 3 || d.Temperatures != nil {
		// A bare --calibrate is Platt scaling.
		t.Errorf("bare --calibrate: bundle decision %+v, want platt with 3 slopes and intercepts", d)
	}
	if code, got := runModelCmd(t, "train", "--data", labels, "--backbone", bb, "--out", out0, "--engine", "go", "--no-cache",
		"--quiet", "--calibrate=sigmoid"); code != exitUsage {
		t.Errorf("--calibrate=sigmoid: exit %d: %s", code, got)
	}
	for _, bad := range []string{"1", "-2"} {
		code, got := runModelCmd(t, "train", "--data", labels, "--backbone", bb, "--out", out0, "--engine", "go", "--no-cache",
			"--quiet", "--calibrate", "--calib-folds", bad)
		if code != exitUsage {
			t.Errorf("--calib-folds %s: exit %d: %s", bad, code, got)
		}
	}
	// Temperature scaling minimises the validation NLL, which tracks calibration.
	t.Logf("temperatures %v, validation ECE %.4f -> %.4f", rec.Calibration.Temperatures, rec.Calibration.Before, rec.Calibration.After)

}
