package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/model/modeltest"
)

func TestEvalModelCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, _, err := modeltest.WriteDataset(dir, 30, 7)
	if err != nil {
		t.Fatal(err)
	}
	mlb := filepath.Join(dir, "m.mlb")
	if err := modeltest.Bundle().Save(mlb); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "img003.png"), []byte("broken"), 0o644)
	code, outs := runCLI(t, "eval", "--model", mlb, "--engine", "go", "--data", labels, "--json", "-", "--report", filepath.Join(dir, "rep"))
	out := []byte(outs)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, out)
	}
	var r struct {
		MAP     float64 `json:"mAP"`
		NImages int     `json:"n_images"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.MAP != 1 || r.NImages != 29 {
		t.Errorf("eval --model: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "rep", "index.html")); err != nil {
		t.Error(err)
	}
	if code, _ := runCLI(t, "eval", "--model", filepath.Join(dir, "nope.mlb"), "--data", labels); code != exitUsage {
		t.Errorf("missing bundle: exit %d", code)
	}
}
