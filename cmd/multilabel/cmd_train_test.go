package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/pipeline"
)

// TestTrainPredictCLI trains on a tiny synthetic set with the pure-Go engine, then
// predicts with the bundle it wrote.
func TestTrainPredictCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 120, 3)
	if err != nil {
		t.Fatal(err)
	}
	mlb := filepath.Join(dir, "out.mlb")
	rep := filepath.Join(dir, "report")
	code, out := runModelCmd(t, "train", "--data", labels, "--backbone", bb, "--out", mlb, "--engine", "go",
		"--no-cache", "--epochs", "60", "--lr", "0.05", "--report", rep, "--json", "--quiet", "--seed", "2")
	if code != exitOK {
		t.Fatalf("train: exit %d: %s", code, out)
	}
	var s struct {
		ID     string             `json:"id"`
		Splits pipeline.SplitInfo `json:"splits"`
		Test   struct {
			MAP float64 `json:"mAP"`
		} `json:"test"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if s.Splits.Train+s.Splits.Val+s.Splits.Test != 120 || s.Splits.Test == 0 || s.Splits.Val == 0 || s.Test.MAP < 0.95 {
		t.Errorf("train summary %+v", s)
	}
	for _, f := range []string{"metrics.json", "history.csv", "predictions.csv", "thresholds.csv", "summary.txt", "index.html"} {
		if _, err := os.Stat(filepath.Join(rep, f)); err != nil {
			t.Errorf("report: %v", err)
		}
	}
	b, err := bundle.Read(mlb)
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != s.ID || len(b.Labels) != 3 || !strings.Contains(string(b.Training), `"history"`) || !strings.Contains(string(b.Metrics), `"test"`) {
		t.Errorf("bundle: id %s vs %s, labels %v", b.ID, s.ID, b.Labels)
	}
	code, out = runModelCmd(t, "predict", "--model", mlb, "--engine", "go", filepath.Join(dir, "img000.png"))
	if code != exitOK || !strings.Contains(out, "img000.png") {
		t.Errorf("predict: exit %d: %s", code, out)
	}
}

func TestTrainBadUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 12, 1)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "m.mlb")
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("image,red,green\nimg000.png,1\nimg001.png,1,0,1\n"), 0o644)
	for name, args := range map[string][]string{
		"no data":      {"train", "--backbone", bb, "--out", out},
		"no backbone":  {"train", "--data", labels, "--out", out},
		"bad loss":     {"train", "--data", labels, "--backbone", bb, "--out", out, "--loss", "hinge"},
		"bad head":     {"train", "--data", labels, "--backbone", bb, "--out", out, "--head", "svm"},
		"bad split":    {"train", "--data", labels, "--backbone", bb, "--out", out, "--split", "0.8"},
		"bad engine":   {"train", "--data", labels, "--backbone", bb, "--out", out, "--engine", "tpu"},
		"missing data": {"train", "--data", filepath.Join(dir, "nope.csv"), "--backbone", bb, "--out", out, "--engine", "go", "--no-cache"},
		"bad labels":   {"train", "--data", bad, "--backbone", bb, "--out", out, "--engine", "go", "--no-cache"},
		"missing bb":   {"train", "--data", labels, "--backbone", filepath.Join(dir, "nope.onnx"), "--out", out, "--engine", "go", "--no-cache"},
		"not onnx":     {"train", "--data", labels, "--backbone", labels, "--out", out, "--engine", "go", "--no-cache"},
		"bad pool":     {"train", "--data", labels, "--backbone", bb, "--out", out, "--pool", "median"},
		"max flat cut": {"train", "--data", labels, "--backbone", bb, "--out", out, "--pool", "max", "--engine", "go", "--no-cache"},
		"max finetune": {"train", "--data", labels, "--backbone", bb, "--out", out, "--pool", "max", "--unfreeze", "1"},
		// The default cut of this backbone is a flat vector: no map to attend over or pool.
		"attention flat cut": {"train", "--data", labels, "--backbone", bb, "--out", out, "--head", "attention", "--engine", "go", "--no-cache"},
		"gem flat cut":       {"train", "--data", labels, "--backbone", bb, "--out", out, "--pool", "gem", "--head", "linear", "--engine", "go", "--no-cache"},
		"gem attention":      {"train", "--data", labels, "--backbone", bb, "--out", out, "--pool", "gem", "--head", "attention"},
		"bad queries":        {"train", "--data", labels, "--backbone", bb, "--out", out, "--head", "attention", "--queries", "random"},
		"bad attn-dim":       {"train", "--data", labels, "--backbone", bb, "--out", out, "--head", "attention", "--attn-dim", "12"},
		"bad max-queries":    {"train", "--data", labels, "--backbone", bb, "--out", out, "--head", "attention", "--max-queries", "0"},
		"attention finetune": {"train", "--data", labels, "--backbone", bb, "--out", out, "--head", "attention", "--unfreeze", "1", "--engine", "go", "--no-cache"},
	} {
		if code, _ := runModelCmd(t, args...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, exitUsage)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed train left a bundle behind")
	}
}

// TestTrainPoolCLI trains with max pooling of a spatial cut (the image itself, cut at
// the input) and checks that the bundle records it and predicts with it.
func TestTrainPoolCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 60, 4)
	if err != nil {
		t.Fatal(err)
	}
	mlb := filepath.Join(dir, "max.mlb")
	code, out := runModelCmd(t, "train", "--data", labels, "--backbone", bb, "--feature-node", "x", "--pool", "max",
		"--head", "linear", "--out", mlb, "--engine", "go", "--no-cache", "--epochs", "5", "--quiet")
	if code != exitOK {
		t.Fatalf("train --pool max: exit %d: %s", code, out)
	}
	b, err := bundle.Read(mlb)
	if err != nil {
		t.Fatal(err)
	}
	if b.BackboneInfo.Pool != "max" || b.Head.In != 3 {
		t.Fatalf("bundle pool %q head in %d", b.BackboneInfo.Pool, b.Head.In)
	}
	if code, out := runModelCmd(t, "predict", "--model", mlb, "--engine", "go", filepath.Join(dir, "img000.png")); code != exitOK {
		t.Fatalf("predict: exit %d: %s", code, out)
	}
}

// TestTrainRefitCLI: train --refit prints the refit line and records it in the JSON
// summary and the bundle; without a validation share it is bad input.
func TestTrainRefitCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 80, 3)
	if err != nil {
		t.Fatal(err)
	}
	mlb := filepath.Join(dir, "refit.mlb")
	args := []string{"train", "--data", labels, "--backbone", bb, "--out", mlb, "--engine", "go", "--no-cache", "--epochs", "20",
		"--lr", "0.05", "--seed", "2", "--refit"}
	code, out := runModelCmd(t, append(args, "--json")...)
	if code != exitOK {
		t.Fatalf("train --refit: exit %d: %s", code, out)
	}
	var s struct {
		Splits pipeline.SplitInfo `json:"splits"`
		Refit  *struct {
			Images     int `json:"images"`
			HeadEpochs int `json:"head_epochs"`
		} `json:"refit"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if s.Refit == nil || s.Refit.Images != s.Splits.Train+s.Splits.Val || s.Refit.HeadEpochs < 1 {
		t.Errorf("refit summary %+v for splits %+v", s.Refit, s.Splits)
	}
	b, err := bundle.Read(mlb)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b.Training), `"refit"`) || !strings.Contains(string(b.Metrics), `"selected_test"`) {
		t.Error("the bundle does not record the refit")
	}
	if code, out = runModelCmd(t, args...); code != exitOK || !strings.Contains(out, "refit: on ") {
		t.Errorf("train --refit text: exit %d: %s", code, out)
	}
	code, _, stderr := runCLIErr(t, append(args, "--split", "0.8,0,0.2")...)
	if code != exitUsage || !strings.Contains(stderr, "refit") {
		t.Errorf("train --refit without validation: exit %d: %s", code, stderr)
	}
}

// The attention error on a cut without a spatial map names the cut and points to
// backbone inspect.
func TestTrainAttentionFlatCutMessage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 12, 1)
	if err != nil {
		t.Fatal(err)
	}
	code, _, out := runCLIErr(t, "train", "--data", labels, "--backbone", bb, "--out", filepath.Join(dir, "m.mlb"),
		"--head", "attention", "--engine", "go", "--no-cache")
	if code != exitUsage || !strings.Contains(out, "--head attention needs the spatial map at the cut") ||
		!strings.Contains(out, "backbone inspect") || !strings.Contains(out, "the cut \"") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

// TestTrainSpatialHeadsCLI trains the attention head, a GeM head and --head auto on a
// spatial cut (the image itself, cut at the input), checks what the bundles record and
// that predict and export use them.
func TestTrainSpatialHeadsCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 60, 4)
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"--data", labels, "--backbone", bb, "--feature-node", "x", "--engine", "go", "--no-cache", "--epochs", "4"}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"attention", []string{"--head", "attention", "--attn-dim", "16", "--queries", "fixed", "--max-queries", "1"}},
		{"gem", []string{"--head", "mlp", "--pool", "gem", "--hidden", "8"}},
		{"auto", []string{"--attn-dim", "16", "--json"}},
	} {
		mlb := filepath.Join(dir, tc.name+".mlb")
		args := append(append([]string{"train"}, common...), append(tc.args, "--out", mlb)...)
		code, out := runModelCmd(t, args...)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", tc.name, code, out)
		}
		b, err := bundle.Read(mlb)
		if err != nil {
			t.Fatal(err)
		}
		h := b.Head
		switch tc.name {
		case "attention":
			if h.Kind != "attention" || !h.Attn.Fixed || h.Attn.Queries != 1 || h.Attn.Group != h.Out || h.Attn.Dim != 16 || b.BackboneInfo.Pool != "" {
				t.Fatalf("attention bundle: kind %s attn %+v pool %q", h.Kind, h.Attn != nil, b.BackboneInfo.Pool)
			}
		case "gem":
			if h.Kind != "mlp" || h.Pool != "gem" || len(h.GeM) != 1 || h.GeM[0] == 3 {
				t.Fatalf("gem bundle: kind %s pool %q p %v", h.Kind, h.Pool, h.GeM)
			}
		case "auto":
			var s struct {
				Head string
				Auto *struct {
					Chosen, Reason string
					Candidates     []struct{ Head string }
				}
			}
			if err := json.Unmarshal([]byte(out), &s); err != nil || s.Auto == nil {
				t.Fatalf("auto --json: %v: %s", err, out)
			}
			if len(s.Auto.Candidates) != 3 || s.Auto.Chosen != s.Head || s.Head != h.Kind || !strings.Contains(s.Auto.Reason, "validation mAP") {
				t.Fatalf("auto: %+v, head %s, bundle %s", s.Auto, s.Head, h.Kind)
			}
			if !strings.Contains(string(b.Training), `"auto"`) {
				t.Error("training record has no auto choice")
			}
		}
		if code, out := runModelCmd(t, "predict", "--model", mlb, "--engine", "go", filepath.Join(dir, "img000.png")); code != exitOK {
			t.Fatalf("%s predict: exit %d: %s", tc.name, code, out)
		}
		if _, err := bundle.ExportONNX(b); err != nil {
			t.Fatalf("%s export: %v", tc.name, err)
		}
		if code, out := runModelCmd(t, "eval", "--model", mlb, "--data", labels, "--engine", "go", "--json"); code != exitOK || !strings.Contains(out, "mAP") {
			t.Fatalf("%s eval --model: exit %d: %s", tc.name, code, out)
		}
	}
}
