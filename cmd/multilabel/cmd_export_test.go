package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/model/modeltest"
)

// TestExportSaysWhatTheGraphExpects: export's message names the input tensor and every
// preprocessing step, and how to apply the thresholds.
func TestExportSaysWhatTheGraphExpects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 40, 3)
	if err != nil {
		t.Fatal(err)
	}
	mlb := filepath.Join(dir, "m.mlb")
	if code, out := runModelCmd(t, "train", "--data", labels, "--backbone", bb, "--out", mlb, "--engine", "go", "--no-cache",
		"--epochs", "5", "--quiet"); code != exitOK {
		t.Fatalf("train: exit %d: %s", code, out)
	}
	code, out := runCLI(t, "export", "--model", mlb, "--out", filepath.Join(dir, "m.onnx"))
	if code != exitOK {
		t.Fatalf("export: exit %d: %s", code, out)
	}
	for _, want := range []string{"input [3 8 8]", "float32 [N,3,8,8] NCHW, RGB channels", "resized to 8x8 ignoring the aspect ratio",
		"each value v/255 (0..1)", "probabilities[j] >= thresholds[j]", "rule f1 in multilabel.decision"} {
		if !strings.Contains(out, want) {
			t.Errorf("export message lacks %q:\n%s", want, out)
		}
	}
}
