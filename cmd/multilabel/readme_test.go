package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// readmeUsage returns the command lines of the README's Usage block: continuation
// lines joined, comments dropped, "multilabel" first.
func readmeUsage(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, "\n## Usage\n")
	if i < 0 {
		t.Fatal("README has no Usage section")
	}
	s = s[i:]
	start := strings.Index(s, "```\n")
	end := strings.Index(s[start+4:], "```")
	if start < 0 || end < 0 {
		t.Fatal("README's Usage section has no code block")
	}
	var lines []string
	cur := ""
	for _, l := range strings.Split(s[start+4:start+4+end], "\n") {
		if k := strings.Index(l, " #"); k >= 0 {
			l = l[:k]
		}
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if strings.HasSuffix(l, `\`) {
			cur += strings.TrimSuffix(l, `\`) + " "
			continue
		}
		lines = append(lines, cur+l)
		cur = ""
	}
	if len(lines) < 10 {
		t.Fatalf("README Usage block: %d command lines, want more", len(lines))
	}
	return lines
}

// expandUsage turns a usage line into the words of a command line: with optional
// groups ("[--json]") kept (full) or dropped, alternatives ("bce|weighted") at their
// first choice.
func expandUsage(line string, full bool) []string {
	var out []string
	inOpt := false
	for _, w := range strings.Fields(line) {
		open := strings.HasPrefix(w, "[")
		if open {
			inOpt = true
			w = strings.TrimPrefix(w, "[")
		}
		closed := strings.HasSuffix(w, "]")
		w = strings.TrimSuffix(w, "]")
		if !inOpt || full {
			if k := strings.Index(w, "|"); k > 0 {
				w = w[:k]
			}
			out = append(out, w)
		}
		if closed {
			inOpt = false
		}
	}
	return out[1:] // without "multilabel"
}

// parseOnly checks that args name a command and that its flags and arguments parse,
// without running it.
func parseOnly(args []string) error {
	args = joinCalibrateValue(args) // as run does
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	root := newRootCmd(e)
	root.InitDefaultHelpCmd() // as Execute does
	root.InitDefaultCompletionCmd(args...)
	c, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if err := c.ParseFlags(rest); err != nil {
		return err
	}
	if !c.Runnable() {
		return fmt.Errorf("%s is not a command", c.CommandPath())
	}
	return c.ValidateArgs(c.Flags().Args())
}

// TestREADMEUsage runs every line of the README's Usage block as printed, with tiny
// fixtures substituted for the file names: once with all the optional flags, and the
// shortest form is checked to parse. Benchmarks (bench) and the synthetic demo, which
// runs for a minute, are only parsed here (TestBenchE2EQuick and TestDemoQuick run
// them); the real-data demo runs on the fixture unless -short. serve starts, listens and stops at once (its context is
// already cancelled). The lines run in README order, so eval, predict, export and
// serve use the bundle that the train line wrote.
func TestREADMEUsage(t *testing.T) {
	// Not parallel: the feature cache goes to a temporary user cache directory.
	tmp := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", filepath.Join(tmp, "cache"))
	t.Setenv("TMPDIR", tmp) // demo's default --out
	fix := filepath.Join(tmp, "fixture")
	os.MkdirAll(fix, 0o755)
	labels, bb := writeSynthSet(t, fix, 60, 6, 5)
	d, err := dataset.Load(labels, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	preds := filepath.Join(tmp, "p.csv")
	writePreds(t, preds, d, 3)
	var th strings.Builder
	for _, l := range d.Labels {
		fmt.Fprintf(&th, "%s,0.5\n", l)
	}
	thresholds := filepath.Join(tmp, "t.csv")
	os.WriteFile(thresholds, []byte(th.String()), 0o644)
	photos := filepath.Join(tmp, "photos")
	os.MkdirAll(photos, 0o755)
	for _, n := range []string{"img001.png", "img002.png"} {
		b, _ := os.ReadFile(filepath.Join(fix, n))
		os.WriteFile(filepath.Join(photos, n), b, 0o644)
	}
	out := filepath.Join(tmp, "out")
	os.MkdirAll(out, 0o755)
	inputs := map[string]string{
		"labels.csv": labels, "test.csv": labels, "imgs/": fix, "model.onnx": bb,
		"p.csv": preds, "t.csv": thresholds, "photo.jpg": filepath.Join(fix, "img000.png"), "photos/": photos,
		"m.mlb": filepath.Join(out, "m.mlb"), "K": "1", "T": "s3cret", "127.0.0.1:8080": "127.0.0.1:0",
	}
	subst := func(words []string) []string {
		res := make([]string, len(words))
		for i, w := range words {
			switch {
			case i > 0 && (words[i-1] == "--out" || words[i-1] == "--report" || words[i-1] == "--json-out"):
				res[i] = filepath.Join(out, strings.TrimSuffix(w, "/"))
			case inputs[w] != "":
				res[i] = inputs[w]
			default:
				if strings.Contains(w, ".") && !strings.HasPrefix(w, "-") && !strings.Contains(w, ",") && w != "0.8" {
					t.Errorf("README word %q looks like a file name the test has no fixture for", w)
				}
				res[i] = w
			}
		}
		return res
	}
	lines := readmeUsage(t)
	for _, line := range lines {
		fullArgs := subst(expandUsage(line, true))
		if err := parseOnly(subst(expandUsage(line, false))); err != nil {
			t.Errorf("%s\nshortest form does not parse: %v", line, err)
		}
		if err := parseOnly(fullArgs); err != nil {
			t.Errorf("%s\ndoes not parse: %v", line, err)
			continue
		}
		if (fullArgs[0] == "demo" && (testing.Short() || !slices.Contains(fullArgs, "--data"))) || fullArgs[0] == "bench" {
			t.Logf("parsed: multilabel %s", strings.Join(fullArgs, " "))
			continue
		}
		t.Logf("run: multilabel %s", strings.Join(fullArgs, " "))
		ctx := context.Background()
		if fullArgs[0] == "serve" {
			c, cancel := context.WithCancel(ctx)
			cancel()
			ctx = c
		}
		var stdout, stderr bytes.Buffer
		code := run(ctx, fullArgs, strings.NewReader(""), &stdout, &stderr)
		if code != exitOK {
			t.Errorf("%s\nas run: multilabel %s\nexit %d:\n%s", line, strings.Join(fullArgs, " "), code, stderr.String())
			continue
		}
		if stdout.Len() == 0 && fullArgs[0] != "serve" {
			t.Errorf("%s: printed nothing", line)
		}
	}
	for _, f := range []string{"splits/train.csv", "f.npy", "m.mlb", "dir/index.html", "out.json", "model.onnx"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("README lines left no %s: %v", f, err)
		}
	}
}

// TestREADMEExample runs the multilabel lines of the README's MIML example as printed,
// on the shared MIML scenes and SqueezeNet (features through the user's feature cache).
// serve is only parsed: the example listens on the fixed port 8080, which a test must
// not take; TestREADMEUsage runs serve.
func TestREADMEExample(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the README's MIML example in -short mode")
	}
	t.Parallel()
	miml := sharedtest.Dir(t, "data/miml-scenes")
	squeeze := filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, "\n### Example: MIML scenes")
	if i < 0 {
		t.Fatal("README has no MIML example")
	}
	s = s[i:]
	start := strings.Index(s, "```sh\n") + len("```sh\n")
	block := s[start : start+strings.Index(s[start:], "```")]
	block = strings.ReplaceAll(block, "\\\n", " ")
	tmp := t.TempDir()
	ran := 0
	for _, line := range strings.Split(block, "\n") {
		words := strings.Fields(line)
		if len(words) == 0 || words[0] != "multilabel" {
			continue
		}
		args := make([]string, 0, len(words)-1)
		for _, w := range words[1:] {
			switch {
			case strings.HasPrefix(w, "miml-scenes/"):
				w = filepath.Join(miml, strings.TrimPrefix(w, "miml-scenes/"))
			case w == "squeezenet1.1-fp16.onnx":
				w = squeeze
			case w == "scenes.mlb" || w == "report/" || w == "maps/":
				w = filepath.Join(tmp, w)
			}
			args = append(args, w)
		}
		if args[0] == "serve" {
			if err := parseOnly(args); err != nil {
				t.Errorf("%s: %v", line, err)
			}
			continue
		}
		code, out, stderr := runCLIErr(t, args...)
		if code != exitOK || out == "" {
			t.Errorf("%s\nexit %d:\n%s", line, code, stderr)
		}
		ran++
	}
	if ran < 2 {
		t.Errorf("ran %d lines of the example, want train and predict", ran)
	}
	for _, f := range []string{filepath.Join("report", "index.html"), filepath.Join("maps", "1.desert.png")} {
		if _, err := os.Stat(filepath.Join(tmp, f)); err != nil {
			t.Error(err)
		}
	}
}
