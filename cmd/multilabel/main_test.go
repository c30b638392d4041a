package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/pipeline"
)

func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitOK},
		{"usage", usageErrorf("--data is required"), exitUsage},
		{"wrapped usage", fmt.Errorf("eval: %w", usageErrorf("--top-k -1 is negative")), exitUsage},
		{"bad input", errkind.BadInput("unknown label %q", "cat"), exitUsage},
		{"wrapped bad input", fmt.Errorf("train: epoch 3: %w", fmt.Errorf("labels.csv:4: %w", errkind.BadInput("unknown label %q", "cat"))), exitUsage},
		{"badInput helper", badInput(errors.New("m.mlb: not a bundle")), exitUsage},
		{"dataset input error", fmt.Errorf("loading: %w", &dataset.InputError{File: "l.csv", Line: 2, Err: errors.New("3 columns, want 4")}), exitUsage},
		{"model bad input", fmt.Errorf("train: %w", errkind.ErrBadInput), exitUsage},
		{"plain failure", errors.New("write /tmp/x: no space left on device"), exitFailure},
		{"wrapped failure", fmt.Errorf("features: %w", os.ErrPermission), exitFailure},
		{"canceled", context.Canceled, exitFailure},
		{"wrapped canceled", fmt.Errorf("train: epoch 2: %w", context.Canceled), exitFailure},
		{"deadline", context.DeadlineExceeded, exitFailure},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", c.name, c.err, got, c.want)
		}
	}
}

// TestCLIConventions checks what a Go user expects of a command line: --version,
// help <cmd>, completion, GNU flags anywhere, suggestions and the command's own usage
// for mistakes (exit 2), errors printed once.
func TestCLIConventions(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, _ := runCLIErr(t, args...)
		if code != exitOK || !strings.HasPrefix(out, "multilabel ") || !strings.Contains(out, "onnxruntime") {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if code, out := runCLI(t, "completion", sh); code != exitOK || !strings.Contains(out, "multilabel") {
			t.Errorf("completion %s: exit %d, %d bytes", sh, code, len(out))
		}
	}
	for _, args := range [][]string{{"help", "train"}, {"train", "--help"}, {"train", "-h"}} {
		if code, out := runCLI(t, args...); code != exitOK || !strings.Contains(out, "--batch-size") || !strings.Contains(out, "multilabel train --data D") {
			t.Errorf("%v: exit %d:\n%s", args, code, out)
		}
	}
	for _, args := range [][]string{{"dataset", "--help"}, {"help", "dataset", "inspect"}, {"help"}, {"--help"}} {
		if code, out := runCLI(t, args...); code != exitOK || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d:\n%s", args, code, out)
		}
	}
	for _, c := range []struct {
		args []string
		want []string // in stderr
		not  string   // not in stderr
	}{
		{[]string{}, []string{"multilabel: no command given", "Available Commands"}, ""},
		{[]string{"trian"}, []string{`unknown command "trian"`, "Did you mean this?\n\ttrain", "Usage:"}, ""},
		{[]string{"dataset"}, []string{"multilabel dataset: choose a command", "inspect", "split"}, ""},
		{[]string{"help", "trian"}, []string{"multilabel help: ", "Did you mean this?\n\ttrain"}, ""},
		{[]string{"help", "dataset", "inspekt"}, []string{`unknown help topic "dataset inspekt"`, "Did you mean this?\n\tinspect"}, ""},
		{[]string{"dataset", "inspekt"}, []string{`unknown command "inspekt" for "multilabel dataset"`, "Did you mean this?\n\tinspect"}, ""},
		{[]string{"train", "--epoch", "3"}, []string{"multilabel train: unknown flag: --epoch", "Did you mean this?\n\t--epochs", "multilabel train --data D"}, "Available Commands"},
		{[]string{"features", "--datta", "x.csv"}, []string{"Did you mean this?\n\t--data", "multilabel features --backbone"}, "Available Commands"},
		{[]string{"eval", "--top-k", "x"}, []string{`multilabel eval: invalid argument "x" for "--top-k"`, "multilabel eval (--predictions"}, ""},
		{[]string{"export", "extra"}, []string{`multilabel export: unexpected arguments ["extra"]`, "multilabel export --model"}, ""},
		{[]string{"train", "--data", "x.csv"}, []string{"multilabel train: --data and --backbone are required\n"}, "train: train:"},
	} {
		code, _, stderr := runCLIErr(t, c.args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d", c.args, code, exitUsage)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%q: stderr lacks %q:\n%s", c.args, w, stderr)
			}
		}
		if c.not != "" && strings.Contains(stderr, c.not) {
			t.Errorf("%q: stderr has %q:\n%s", c.args, c.not, stderr)
		}
		if n := strings.Count(stderr, "Error:"); n > 0 {
			t.Errorf("%q: cobra printed the error itself:\n%s", c.args, stderr)
		}
	}
}

// TestInterspersedFlags: flags after positional arguments, the README's spelling.
func TestInterspersedFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mlb := filepath.Join(dir, "m.mlb")
	if err := modeltest.Bundle().Save(mlb); err != nil {
		t.Fatal(err)
	}
	photos := filepath.Join(dir, "photos")
	os.MkdirAll(photos, 0o755)
	modeltest.WritePNG(filepath.Join(photos, "red.png"), modeltest.Solid(color.RGBA{255, 0, 0, 255}, 8, 8))
	code, out := runCLI(t, "predict", "--model", mlb, photos, "--json", "--engine", "go")
	var po predictOutput
	if code != exitOK || json.Unmarshal([]byte(out), &po) != nil || len(po.Predictions) != 1 {
		t.Fatalf("predict --model m.mlb photos/ --json: exit %d: %s", code, out)
	}
	// "--" ends the flags: what follows is an image path even when it looks like a flag.
	if code, _ := runCLI(t, "predict", "--model", mlb, "--engine", "go", "--", "--json"); code != exitUsage {
		t.Errorf("predict -- --json: exit %d, want %d (no such image)", code, exitUsage)
	}
}

// TestDeprecatedAliases: the old spellings keep working, hidden from help, with a
// warning on stderr.
func TestDeprecatedAliases(t *testing.T) {
	t.Parallel()
	dir := datasetFixture(t)
	tiny := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := os.WriteFile(tiny, modeltest.Backbone(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLIErr(t, "features", "--backbone", tiny, "--data", filepath.Join(dir, "labels.csv"), "--engine", "go",
		"--batch", "2", "--cache", filepath.Join(t.TempDir(), "cache"), "--json")
	var s featuresSummary
	if code != exitOK || json.Unmarshal([]byte(out), &s) != nil || s.Written != 1 || !strings.Contains(s.Cache, "cache") {
		t.Fatalf("features --batch --cache: exit %d: %s", code, out)
	}
	for _, w := range []string{"--batch is deprecated", "use --batch-size", "--cache is deprecated", "use --cache-dir"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if _, help := runCLI(t, "features", "--help"); strings.Contains(help, "--batch ") || strings.Contains(help, "--cache ") {
		t.Errorf("help shows the deprecated spellings:\n%s", help)
	}
}

// TestEvalJSONForms: --json is a switch (JSON on stdout), --json-out FILE writes a file
// and keeps the table; the old file operand (--json FILE, --json=FILE) still works.
func TestEvalJSONForms(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, code, out := evalCmd(t, dir, evalPreds, "--json"); code != exitOK || !json.Valid([]byte(out)) {
		t.Errorf("--json: exit %d: %q", code, out)
	}
	for i, form := range [][]string{{"--json-out", "F"}, {"--json", "F"}, {"--json=F"}} {
		f := filepath.Join(dir, fmt.Sprintf("m%d.json", i))
		args := strings.Split(strings.ReplaceAll(strings.Join(form, "\x00"), "F", f), "\x00")
		err, code, out := evalCmd(t, dir, evalPreds, args...)
		raw, rerr := os.ReadFile(f)
		if code != exitOK || rerr != nil || !json.Valid(raw) || !strings.Contains(out, "mAP") {
			t.Errorf("%q: exit %d %v, file %v, table %q", form, code, err, rerr, out)
		}
	}
	for _, args := range [][]string{{"--json", "a.json", "b.json"}, {"extra.json"}, {"--json", "--json-out", "x.json"}} {
		if _, code, _ := evalCmd(t, dir, evalPreds, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestReaderFlagsEverywhere: the dataset reader flags apply to train's --data, --val
// and --test, and --strict stops at a bad image.
func TestReaderFlagsEverywhere(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 60, 5)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(labels)
	lines := strings.SplitAfter(string(raw), "\n")
	write := func(name string, rows []string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(lines[0]+strings.Join(rows, "")), 0o644)
		return p
	}
	tr, va, te := write("tr.csv", lines[1:41]), write("va.csv", lines[41:51]), write("te.csv", lines[51:61])
	mlb := filepath.Join(dir, "m.mlb")
	code, out := runCLI(t, "train", "--data", tr, "--val", va, "--test", te, "--format", "csv-onehot", "--labels", "blue,green,red",
		"--backbone", bb, "--engine", "go", "--no-cache", "--quiet", "--epochs", "5", "--out", mlb, "--json")
	var s struct {
		Splits pipeline.SplitInfo `json:"splits"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &s) != nil {
		t.Fatalf("train with reader flags: exit %d: %s", code, out)
	}
	if s.Splits.How != "given" || s.Splits.Train != 40 || s.Splits.Val != 10 || s.Splits.Test != 10 {
		t.Errorf("splits %+v", s.Splits)
	}
	b, err := bundle.Read(mlb)
	if err != nil || strings.Join(b.Labels, ",") != "blue,green,red" {
		t.Fatalf("bundle labels %v (%v): --labels did not reach the training data", b.Labels, err)
	}
	// --labels names a label the files lack: bad input.
	if code, _ := runCLI(t, "train", "--data", tr, "--val", va, "--labels", "blue,green,red,pink",
		"--backbone", bb, "--engine", "go", "--no-cache", "--quiet", "--out", mlb); code != exitUsage {
		t.Errorf("unknown --labels column: exit %d, want %d", code, exitUsage)
	}
	// --strict: one broken image in the test file.
	os.WriteFile(filepath.Join(dir, "img055.png"), []byte("broken"), 0o644)
	if code, _ := runCLI(t, "train", "--data", tr, "--test", te, "--strict",
		"--backbone", bb, "--engine", "go", "--no-cache", "--quiet", "--epochs", "2", "--json"); code != exitUsage {
		t.Errorf("train --strict with a broken image: exit %d, want %d", code, exitUsage)
	}
	if code, _ := runCLI(t, "train", "--data", tr, "--test", te,
		"--backbone", bb, "--engine", "go", "--no-cache", "--quiet", "--epochs", "2", "--json"); code != exitOK {
		t.Errorf("train without --strict, a broken image: exit %d, want 0 (skipped and counted)", code)
	}
	// The same flags on eval, features and dataset.
	if code, _ := runCLI(t, "eval", "--model", mlb, "--engine", "go", "--data", te, "--format", "csv-onehot", "--json"); code != exitOK {
		t.Errorf("eval --format: exit %d", code)
	}
	if code, _ := runCLI(t, "eval", "--model", mlb, "--engine", "go", "--data", te, "--strict"); code != exitUsage {
		t.Errorf("eval --strict with a broken image: exit %d, want %d", code, exitUsage)
	}
	if code, _ := runCLI(t, "eval", "--model", mlb, "--engine", "tpu", "--data", te); code != exitUsage {
		t.Errorf("eval --engine tpu: exit %d, want %d", code, exitUsage)
	}
	if code, _ := runCLI(t, "demo", "--data", tr, "--backbone", bb, "--labels", "blue,green,red,pink", "--quick", "--out", t.TempDir()); code != exitUsage {
		t.Errorf("demo --data --labels with a label the file lacks: exit %d, want %d", code, exitUsage)
	}
	if code, _ := runCLI(t, "demo", "--format", "csv"); code != exitUsage {
		t.Errorf("demo --format without --data: exit %d, want %d", code, exitUsage)
	}
	if code, _ := runCLI(t, "dataset", "inspect", "--data", tr, "--format", "coco"); code != exitUsage {
		t.Errorf("dataset inspect --format coco on a CSV: exit %d, want %d", code, exitUsage)
	}
	if code, _ := runCLI(t, "features", "--backbone", bb, "--engine", "go", "--no-cache", "--data", tr, "--list-sep", "tab"); code != exitUsage {
		t.Errorf("features --list-sep tab: exit %d, want %d", code, exitUsage)
	}
}

func TestErrorLineSaysWhereOnce(t *testing.T) {
	t.Parallel()
	cases := []struct{ cmd, err, want string }{
		{"train", "train: train: epoch 3 step 2: loss is NaN", "epoch 3 step 2: loss is NaN"},
		{"train", "labels.csv line 4: unknown label", "labels.csv line 4: unknown label"},
		{"eval", "train: epoch 1", "train: epoch 1"},
		{"predict", "predict:no space", "predict:no space"},
	}
	for _, c := range cases {
		if got := errorLine(c.cmd, errors.New(c.err)); got != c.want {
			t.Errorf("errorLine(%q, %q) = %q, want %q", c.cmd, c.err, got, c.want)
		}
	}
}
