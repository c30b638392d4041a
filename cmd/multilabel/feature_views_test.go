package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/model/modeltest"
)

// TestTrainFeatureViewsCLI: train --feature-views flip trains on the flipped views too
// (batch size 1: twice the steps of the same run without it, the views recorded in the bundle), the
// bundle predicts as any other, and the views are usage errors where they cannot apply.
func TestTrainFeatureViewsCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 40, 4)
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	steps := func(name string, extra ...string) (int, []string) {
		t.Helper()
		mlb := filepath.Join(dir, name+".mlb")
		args := append([]string{"train", "--data", labels, "--backbone", bb, "--feature-node", "x", "--head", "linear",
			"--out", mlb, "--engine", "go", "--cache-dir", cache, "--epochs", "2", "--batch-size", "1", "--quiet"}, extra...)
		if code, out := runModelCmd(t, args...); code != exitOK {
			t.Fatalf("%s: exit %d: %s", name, code, out)
		}
		b, err := bundle.Read(mlb)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Steps  int `json:"steps"`
			Config struct {
				Views []string `json:"feature_views"`
			} `json:"config"`
		}
		if err := json.Unmarshal(b.Training, &rec); err != nil {
			t.Fatal(err)
		}
		if code, out := runModelCmd(t, "predict", "--model", mlb, "--engine", "go", filepath.Join(dir, "img000.png")); code != exitOK {
			t.Fatalf("predict with %s: exit %d: %s", name, code, out)
		}
		return rec.Steps, rec.Config.Views
	}
	plain, none := steps("plain")
	flip, views := steps("flip", "--feature-views", "flip")
	if len(none) != 0 || strings.Join(views, ",") != "flip" {
		t.Fatalf("recorded views %v and %v", none, views)
	}
	if plain == 0 || flip != 2*plain {
		t.Fatalf("steps %d with the flip view, %d without: want twice", flip, plain)
	}
	out := filepath.Join(dir, "bad.mlb")
	for name, args := range map[string][]string{
		"unknown view":  {"--feature-views", "rotate"},
		"twice":         {"--feature-views", "flip,flip"},
		"with features": {"--feature-views", "flip", "--features", filepath.Join(dir, "f.npy")},
		"with unfreeze": {"--feature-views", "flip", "--unfreeze", "1"},
		"calib folds":   {"--feature-views", "flip", "--calib-folds", "3", "--engine", "go", "--no-cache"},
	} {
		args = append([]string{"train", "--data", labels, "--backbone", bb, "--out", out}, args...)
		if code, _ := runModelCmd(t, args...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, exitUsage)
		}
	}
}
