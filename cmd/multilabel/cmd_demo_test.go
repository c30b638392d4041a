package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/internal/sharedtest"
)

// runDemoCmd runs the CLI with args and returns the exit code and standard output.
func runDemoCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return runCLI(t, args...)
}

// TestDemoQuick is the README's first command, as CI runs it: the quick demo with the
// embedded backbone must show transfer learning ahead of training from scratch.
func TestDemoQuick(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("skipping the quick demo in -short mode")
	}
	dir := t.TempDir()
	code, out := runDemoCmd(t, "demo", "--quick", "--json", "--out", dir)
	if code != exitOK {
		t.Fatalf("demo --quick: exit %d: %s", code, out)
	}
	var res struct {
		Rows []struct {
			Method string   `json:"method"`
			Loss   string   `json:"loss"`
			MAP    float64  `json:"mAP"`
			RareAP *float64 `json:"rare_AP"`
		} `json:"rows"`
		RareLabels []string `json:"rare_labels"`
		Report     string   `json:"report"`
		Bundle     string   `json:"bundle"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res.Rows) != 8 || len(res.RareLabels) == 0 {
		t.Fatalf("want 8 rows and rare labels: %s", out)
	}
	best := map[string]float64{}
	rare := map[string]map[string]float64{}
	for _, r := range res.Rows {
		if rare[r.Method] == nil {
			rare[r.Method] = map[string]float64{}
		}
		if r.RareAP != nil {
			rare[r.Method][r.Loss] = *r.RareAP
		}
		best[r.Method] = max(best[r.Method], r.MAP)
		t.Logf("%-13s %-4s mAP %.3f", r.Method, r.Loss, r.MAP)
	}
	const margin = 0.05
	if best["linear-probe"] < best["scratch"]+margin || best["fine-tune"] < best["scratch"]+margin {
		t.Errorf("transfer is not ahead of scratch by %.2f mAP: %v", margin, best)
	}
	// The asymmetric loss ahead of BCE on the rarest labels, for at least two of the four
	// methods (measured with the default seed after the world got its sea scenes:
	// fine-tune +0.072 AP, scratch +0.008, linear probe +0.007, graph probe +0.004).
	ahead := 0
	for m, v := range rare {
		if v["asl"] > v["bce"] {
			ahead++
		}
		t.Logf("%-13s rare AP bce %.3f asl %.3f", m, v["bce"], v["asl"])
	}
	if ahead < 2 {
		t.Errorf("ASL ahead of BCE on the rare labels for %d of %d methods, want >= 2", ahead, len(rare))
	}
	for _, f := range []string{res.Report, res.Bundle, filepath.Join(dir, "data", "train.csv")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("output missing: %v", err)
		}
	}
}

func TestDemoBadUsage(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"extra arg":         {"demo", "extra"},
		"data":              {"demo", "--data", "x.csv"},
		"missing backbone":  {"demo", "--backbone", filepath.Join(t.TempDir(), "none.onnx")},
		"backbone+pretrain": {"demo", "--backbone", "x.onnx", "--pretrain"},
		"unknown flag":      {"demo", "--frobnicate"},
		"unknown method":    {"demo", "--data", "x.csv", "--backbone", "x.onnx", "--methods", "scratch,nope"},
		"data+pretrain":     {"demo", "--data", "x.csv", "--backbone", "x.onnx", "--pretrain"},
		"negative limit":    {"demo", "--data", "x.csv", "--backbone", "x.onnx", "--limit", "-1"},
		"limit synth":       {"demo", "--limit", "10"},
		"methods synth":     {"demo", "--methods", "scratch"},
	} {
		if code, _ := runDemoCmd(t, args...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, exitUsage)
		}
	}
	junk := filepath.Join(t.TempDir(), "junk.onnx")
	os.WriteFile(junk, []byte("junk"), 0o644)
	if code, _ := runDemoCmd(t, "demo", "--backbone", junk); code != exitUsage {
		t.Errorf("junk backbone: exit %d, want %d", code, exitUsage)
	}
}

// TestDemoRealMIML runs the real-data comparison, kept short: MIML scenes cut to a
// stratified 300 images, SqueezeNet 1.1, the scratch and linear-probe rows only, one
// fine-tuning epoch. Transfer (the probe on pretrained features) must beat the same
// architecture with random weights whose last block and head were trained (measured:
// mAP 0.746/0.761 vs 0.667/0.664). Features go through the user's feature cache, so a
// second run skips most extraction; about a minute on two cores.
func TestDemoRealMIML(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("skipping the real-data demo in -short mode")
	}
	data := sharedtest.Dir(t, "data/miml-scenes")
	models := sharedtest.Dir(t, "models/squeezenet1.1")
	ortLib := sharedtest.ORTLib(t)
	dir := t.TempDir()
	code, out := runDemoCmd(t, "demo", "--data", filepath.Join(data, "labels_onehot.csv"),
		"--backbone", filepath.Join(models, "squeezenet1.1-fp16.onnx"), "--methods", "scratch,linear-probe",
		"--limit", "300", "--quick", "--ort-lib", ortLib, "--out", dir, "--json")
	if code != exitOK {
		t.Fatalf("demo --data: exit %d: %s", code, out)
	}
	var res struct {
		Rows []struct {
			Method string  `json:"method"`
			Loss   string  `json:"loss"`
			MAP    float64 `json:"mAP"`
		} `json:"rows"`
		Labels      []string `json:"labels"`
		RareLabels  []string `json:"rare_labels"`
		TrainImages int      `json:"train_images"`
		TestImages  int      `json:"test_images"`
		Report      string   `json:"report"`
		Bundle      string   `json:"bundle"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res.Rows) != 4 || len(res.Labels) != 5 || len(res.RareLabels) != 2 {
		t.Fatalf("want 4 rows, 5 labels, 2 rare labels: %s", out)
	}
	if n := res.TrainImages + res.TestImages; n < 250 || n > 300 {
		t.Errorf("train %d + test %d images: want most of the 300-image subset (the rest validates)", res.TrainImages, res.TestImages)
	}
	best := map[string]float64{}
	for _, r := range res.Rows {
		best[r.Method] = max(best[r.Method], r.MAP)
		t.Logf("%-13s %-4s mAP %.3f", r.Method, r.Loss, r.MAP)
	}
	if !(best["linear-probe"] > best["scratch"]+0.03) {
		t.Errorf("transfer not ahead of scratch on MIML: %v", best)
	}
	for _, f := range []string{res.Report, res.Bundle, filepath.Join(dir, "results.json")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("output missing: %v", err)
		}
	}
}
