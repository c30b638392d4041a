package main

import (
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/internal/demo"
	"github.com/multilabel/multilabel/internal/synth"
)

// writeSynthSet writes the demo's embedded backbone (with its preprocessing sidecar)
// and n generated target-task images with a one-hot labels CSV into dir, keeping the
// labels with at least minPos positives. It returns the CSV and backbone paths.
func writeSynthSet(t *testing.T, dir string, n, minPos int, seed uint64) (labels, bb string) {
	t.Helper()
	const size = 24
	bb = filepath.Join(dir, "backbone.onnx")
	if err := os.WriteFile(bb, demo.EmbeddedBackbone(), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(demo.SpecFor(size))
	if err := os.WriteFile(filepath.Join(dir, "backbone.json"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	samples := synth.Target(synth.Config{Size: size}, n, seed)
	names := synth.TargetLabels()
	var keep []int
	for j := range names {
		pos := 0
		for _, s := range samples {
			pos += int(s.Truth[j])
		}
		if pos >= minPos && pos <= n-minPos {
			keep = append(keep, j)
		}
	}
	var csv strings.Builder
	csv.WriteString("image")
	for _, j := range keep {
		csv.WriteString("," + names[j])
	}
	csv.WriteString("\n")
	for i, s := range samples {
		name := fmt.Sprintf("img%03d.png", i)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, s.Image); err != nil {
			t.Fatal(err)
		}
		f.Close()
		csv.WriteString(name)
		for _, j := range keep {
			fmt.Fprintf(&csv, ",%d", s.Truth[j])
		}
		csv.WriteString("\n")
	}
	labels = filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(labels, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return labels, bb
}

// TestTrainUnfreezeCLI: train --unfreeze 1 on a small synthetic set with the demo's
// embedded backbone fine-tunes the last block, prints the test mAP of the head on
// frozen features and of the fine-tuned model, and writes a bundle predict can use.
func TestTrainUnfreezeCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb := writeSynthSet(t, dir, 80, 8, 11)
	mlb := filepath.Join(dir, "ft.mlb")
	code, out := runCLI(t, "train", "--data", labels, "--backbone", bb, "--out", mlb, "--engine", "go",
		"--no-cache", "--epochs", "20", "--unfreeze", "1", "--ft-epochs", "1", "--ft-batch-size", "16", "--seed", "3") // not --quiet: it prints only the final line (issue 18)
	if code != exitOK {
		t.Fatalf("train --unfreeze 1: exit %d: %s", code, out)
	}
	if !strings.Contains(out, "fine-tuned from block") || !strings.Contains(out, "test mAP: head on frozen features") {
		t.Fatalf("train output lacks the fine-tuning summary:\n%s", out)
	}
	if runtime.GOOS == "linux" && !strings.Contains(out, "MiB") {
		t.Errorf("the fine-tuning summary lacks the peak RSS:\n%s", out)
	}
	var probe, ft float64
	line := out[strings.Index(out, "test mAP: head on frozen features"):]
	if _, err := fmt.Sscanf(line, "test mAP: head on frozen features %f, fine-tuned %f", &probe, &ft); err != nil {
		t.Fatalf("%v: %q", err, line)
	}
	if !(probe > 0 && probe <= 1 && ft > 0 && ft <= 1) {
		t.Errorf("test mAPs %v (probe), %v (fine-tuned)", probe, ft)
	}
	b, err := bundle.Read(mlb)
	if err != nil {
		t.Fatal(err)
	}
	code, out = runCLI(t, "predict", "--model", mlb, "--engine", "go", "--json", filepath.Join(dir, "img000.png"), filepath.Join(dir, "img001.png"))
	if code != exitOK {
		t.Fatalf("predict: exit %d: %s", code, out)
	}
	var p predictOutput
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(p.Predictions) != 2 || p.Errors != 0 || len(p.Labels) != len(b.Labels) || len(p.Predictions[0].Scores) != len(b.Labels) {
		t.Errorf("predict output %+v (bundle labels %v)", p, b.Labels)
	}
}
