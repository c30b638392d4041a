package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/engine/enginetest"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/model/modeltest"
)

func runFeaturesCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return runCLI(t, append([]string{"features"}, args...)...)
}

// TestFeaturesCLI runs the command on the dataset fixture of the dataset tests (one good
// image, one text file, one missing file) with the tiny PyTorch-made backbone on the
// pure-Go engine: twice, the second time from the cache.
func TestFeaturesCLI(t *testing.T) {
	t.Parallel()
	dir := datasetFixture(t)
	model := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := os.WriteFile(model, enginetest.TinyModel(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "f.npy")
	args := []string{"--backbone", model, "--data", filepath.Join(dir, "labels.csv"), "--engine", "go",
		"--cache-dir", filepath.Join(t.TempDir(), "cache"), "--out", out, "--json"}
	var sums [2]featuresSummary
	for i := range 2 {
		code, stdout := runFeaturesCLI(t, args...)
		if code != exitOK {
			t.Fatalf("run %d: exit %d: %s", i, code, stdout)
		}
		if err := json.Unmarshal([]byte(stdout), &sums[i]); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
	}
	if s := sums[0]; s.Images != 3 || s.Written != 1 || len(s.Bad) != 2 || s.Extracted != 1 || s.Dim != 6 {
		t.Fatalf("first run: %+v", s)
	}
	if s := sums[1]; s.Extracted != 0 || s.Cached != 1 {
		t.Fatalf("second run: extracted %d cached %d, want 0 and 1", s.Extracted, s.Cached)
	}
	data, shape, err := featcache.ReadNPY(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 2 || shape[0] != 1 || shape[1] != 6 || len(data) != 6 {
		t.Fatalf("npy shape %v", shape)
	}
	names, err := os.ReadFile(out + ".names.txt")
	if err != nil || string(names) != "a.jpg\n" {
		t.Fatalf("names file %q, %v", names, err)
	}

	// --strict turns the bad images into a bad-input error.
	if code, _ := runFeaturesCLI(t, append(args, "--strict", "--no-cache")...); code != exitUsage {
		t.Fatalf("--strict: exit %d, want %d", code, exitUsage)
	}
}

func TestFeaturesCLIUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"--backbone", "x.onnx"},
		{"--backbone", "x.onnx", "--data", "d.csv", "--engine", "tpu"},
		{"--backbone", "x.onnx", "--data", "d.csv", "--out", "f.csv"},
		{"--backbone", "x.onnx", "--data", "d.csv", "--batch-size", "0"},
		{"--backbone", "x.onnx", "--data", "d.csv", "--batch", "0"}, // the deprecated spelling
	} {
		if code, out := runFeaturesCLI(t, args...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d (%s)", strings.Join(args, " "), code, exitUsage, out)
		}
	}
}

// TestFeaturesSpatialCLI extracts the map at a spatial cut (the 3×8×8 input of the tiny
// colour backbone) twice, the second time from the float16 cache; a flat cut is refused.
func TestFeaturesSpatialCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "maps.npy")
	args := []string{"--backbone", bb, "--data", labels, "--engine", "go", "--feature-node", "x", "--spatial",
		"--cache-dir", filepath.Join(dir, "cache"), "--out", out, "--json"}
	var first []float32
	for i := range 2 {
		code, stdout := runFeaturesCLI(t, args...)
		if code != exitOK {
			t.Fatalf("run %d: exit %d: %s", i, code, stdout)
		}
		var s featuresSummary
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
		if s.Dim != 3*8*8 || s.Written != 4 || (i == 1 && s.Cached != 4) {
			t.Fatalf("run %d: %+v", i, s)
		}
		data, shape, err := featcache.ReadNPY(out)
		if err != nil || len(shape) != 2 || shape[0] != 4 || shape[1] != 192 {
			t.Fatalf("run %d: npy shape %v (%v)", i, shape, err)
		}
		if i == 0 {
			first = data
		} else if !slices.Equal(first, data) {
			t.Fatal("the cached maps differ from the extracted ones")
		}
	}
	code, stdout := runFeaturesCLI(t, "--backbone", bb, "--data", labels, "--engine", "go", "--spatial", "--no-cache")
	if code != exitUsage {
		t.Fatalf("spatial on a flat cut: exit %d: %s", code, stdout)
	}
	if code, _ := runFeaturesCLI(t, "--backbone", bb, "--data", labels, "--spatial", "--pool", "max"); code != exitUsage {
		t.Fatalf("--spatial --pool: exit %d", code)
	}
}
