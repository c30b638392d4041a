package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/pipeline"
)

// trainJSON is the part of train --json the protocol tests read.
type trainJSON struct {
	Splits pipeline.SplitInfo     `json:"splits"`
	Tuning pipeline.ThresholdInfo `json:"thresholds_tuning"`
	Test   *struct {
		MAP float64 `json:"mAP"`
	} `json:"test"`
}

func decodeTrain(t *testing.T, out string) trainJSON {
	t.Helper()
	var s trainJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return s
}

// fastTrain are the flags that keep a CLI training run short.
var fastTrain = []string{"--engine", "go", "--no-cache", "--epochs", "5", "--quiet", "--seed", "2"}

// TestTrainOverlapCLI: --test equal to --data is bad input naming --allow-overlap;
// with it, the run trains and counts the shared images in --json.
func TestTrainOverlapCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 40, 3)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"train", "--data", labels, "--test", labels, "--backbone", bb, "--json"}, fastTrain...)
	code, _, stderr := runCLIErr(t, args...)
	if code != exitUsage || !strings.Contains(stderr, "--allow-overlap") || !strings.Contains(stderr, "40 image(s)") {
		t.Fatalf("overlap: exit %d: %s", code, stderr)
	}
	code, out, stderr := runCLIErr(t, append(args, "--allow-overlap")...)
	if code != exitOK {
		t.Fatalf("--allow-overlap: exit %d: %s", code, stderr)
	}
	if s := decodeTrain(t, out); s.Splits.Overlap != 40 || s.Splits.Test != 40 || !strings.Contains(s.Splits.Chosen, "test file") {
		t.Errorf("splits %+v", s.Splits)
	}
}

// TestTrainSplitFilesCLI: the CSVs of dataset split train as they are, from another
// directory, without --images.
func TestTrainSplitFilesCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(filepath.Join(dir), 60, 4)
	if err != nil {
		t.Fatal(err)
	}
	split := filepath.Join(t.TempDir(), "split")
	code, out := runCLI(t, "dataset", "split", "--data", labels, "--out", split, "--ratios", "0.7,0.1,0.2")
	if code != exitOK {
		t.Fatalf("split: exit %d: %s", code, out)
	}
	// The split folder is not where the images are: the references leave it, the split
	// says so, and training on the files needs --allow-outside (refused without it).
	if !strings.Contains(out, "--allow-outside") {
		t.Errorf("dataset split does not say the files need --allow-outside: %s", out)
	}
	trainArgs := append([]string{"train", "--data", filepath.Join(split, "train.csv"),
		"--val", filepath.Join(split, "val.csv"), "--test", filepath.Join(split, "test.csv"), "--backbone", bb, "--json"}, fastTrain...)
	if code, _, _ := runCLIErr(t, trainArgs...); code != exitUsage {
		t.Errorf("train on split files outside the images without --allow-outside: exit %d, want %d", code, exitUsage)
	}
	code, out, stderr := runCLIErr(t, append([]string{"train", "--allow-outside", "--data", filepath.Join(split, "train.csv"),
		"--val", filepath.Join(split, "val.csv"), "--test", filepath.Join(split, "test.csv"), "--backbone", bb, "--json"}, fastTrain...)...)
	if code != exitOK {
		t.Fatalf("train on split files: exit %d: %s", code, stderr)
	}
	s := decodeTrain(t, out)
	if s.Splits.How != "given" || s.Splits.Train+s.Splits.Val+s.Splits.Test != 60 || s.Splits.Val == 0 || s.Test == nil {
		t.Errorf("splits %+v", s.Splits)
	}
}

// TestTrainVOCProtocolCLI: the VOC protocol, trainval → test of one root, with
// --test-voc-set; without it --test reads trainval too, which the overlap rule refuses.
func TestTrainVOCProtocolCLI(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	imgs := filepath.Join(root, "JPEGImages")
	for _, d := range []string{imgs, filepath.Join(root, "Annotations"), filepath.Join(root, "ImageSets", "Main")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	labels, bb, err := modeltest.WriteDataset(imgs, 80, 6)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dataset.Load(labels, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var trainval, test strings.Builder
	for i, s := range d.Samples {
		id := strings.TrimSuffix(s.Image, ".png")
		var x strings.Builder
		fmt.Fprintf(&x, "<annotation><filename>%s</filename>", s.Image)
		for l, v := range s.Truth {
			if v == dataset.Positive {
				fmt.Fprintf(&x, "<object><name>%s</name><difficult>0</difficult></object>", d.Labels[l])
			}
		}
		x.WriteString("</annotation>\n")
		if err := os.WriteFile(filepath.Join(root, "Annotations", id+".xml"), []byte(x.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		set := &trainval
		if i >= 60 {
			set = &test
		}
		fmt.Fprintln(set, id)
	}
	for name, body := range map[string]string{"trainval": trainval.String(), "test": test.String()} {
		if err := os.WriteFile(filepath.Join(root, "ImageSets", "Main", name+".txt"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{"train", "--data", root, "--voc-set", "trainval", "--test", root, "--backbone", bb, "--json"}, fastTrain...)
	if code, _, stderr := runCLIErr(t, args...); code != exitUsage || !strings.Contains(stderr, "--allow-overlap") {
		t.Errorf("--test of the same image set: exit %d: %s", code, stderr)
	}
	code, out, stderr := runCLIErr(t, append(args, "--test-voc-set", "test")...)
	if code != exitOK {
		t.Fatalf("VOC protocol: exit %d: %s", code, stderr)
	}
	s := decodeTrain(t, out)
	if s.Splits.Test != 20 || s.Splits.Train+s.Splits.Val != 60 || s.Splits.Val == 0 || s.Test == nil {
		t.Errorf("splits %+v", s.Splits)
	}
	// --strict opens the test set's own images; a broken one there fails the run.
	if err := os.WriteFile(filepath.Join(imgs, "img079.png"), []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLIErr(t, append(args, "--test-voc-set", "test", "--strict")...); code != exitUsage || !strings.Contains(stderr, "img079.png") {
		t.Errorf("--strict with a broken test image: exit %d: %s", code, stderr)
	}
}

// TestTrainOutputCLI: train prints a short summary by default, the tables with
// --verbose, only the final line with --quiet, and logs plain lines (no timestamps).
func TestTrainOutputCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 60, 2)
	if err != nil {
		t.Fatal(err)
	}
	mlb := filepath.Join(dir, "m.mlb")
	base := []string{"train", "--data", labels, "--backbone", bb, "--out", mlb, "--engine", "go", "--no-cache", "--epochs", "5", "--seed", "2"}
	code, out, stderr := runCLIErr(t, base...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) > 8 || !strings.HasPrefix(lines[0], "split: ") || !strings.Contains(out, "\ntest: mAP ") ||
		!strings.Contains(out, "thresholds: ") || !strings.HasPrefix(lines[len(lines)-1], "wrote "+mlb) || strings.Contains(out, "threshold  precision") {
		t.Errorf("summary (%d lines):\n%s", len(lines), out)
	}
	if strings.Contains(stderr, "time=") || strings.Contains(stderr, "level=") || !strings.Contains(stderr, "train: data labels=3 train=") {
		t.Errorf("log lines:\n%s", stderr)
	}
	if !strings.Contains(stderr, "warning: train: ") {
		t.Errorf("no warning about the small validation set:\n%s", stderr)
	}
	_, out, _ = runCLIErr(t, append(base, "--verbose")...)
	if !strings.Contains(out, "threshold  precision") || !strings.Contains(out, "validation (per-class") {
		t.Errorf("--verbose has no tables:\n%s", out)
	}
	code, out, stderr = runCLIErr(t, append(base, "--quiet")...)
	if code != exitOK || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "wrote ") || stderr != "" {
		t.Errorf("--quiet: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	_, _, stderr = runCLIErr(t, append(base, "--log-level", "error")...)
	if strings.Contains(stderr, "train: data") || strings.Contains(stderr, "warning:") {
		t.Errorf("--log-level error logs: stderr %q", stderr)
	}
	if code, _, _ := runCLIErr(t, append(base, "--log-level", "loud")...); code != exitUsage {
		t.Errorf("--log-level loud: exit %d", code)
	}
	if _, help := runCLI(t, "train", "--help"); !strings.Contains(help, "split 70/10/20") {
		t.Errorf("train --help does not state the default split:\n%s", help)
	}
}

// TestTrainQuietProcess: as a separate process, with both engine and training backend
// on ONNX Runtime, train --quiet writes its final line and nothing else: not even the
// notices the ONNX Runtime library prints on file descriptor 2 while compute-onnx
// settles on its API version.
func TestTrainQuietProcess(t *testing.T) {
	t.Parallel()
	lib := sharedtest.ORTLib(t)
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 40, 2)
	if err != nil {
		t.Fatal(err)
	}
	mlb := filepath.Join(dir, "m.mlb")
	c := exec.Command(os.Args[0], "train", "--data", labels, "--backbone", bb, "--out", mlb, "--engine", "ort",
		"--backend", "onnx", "--ort-lib", lib, "--no-cache", "--epochs", "2", "--seed", "2", "--quiet")
	c.Env = append(os.Environ(), asCLI+"=1")
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("train --quiet: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if out := stdout.String(); strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "wrote "+mlb) || stderr.Len() != 0 {
		t.Errorf("train --quiet: stdout %q, stderr %q", out, stderr.String())
	}
}
