package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/audit"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/model/modeltest"
)

func TestDatasetAuditCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 60, 3)
	if err != nil {
		t.Fatal(err)
	}
	csvOut, rep := filepath.Join(dir, "audit.csv"), filepath.Join(dir, "rep")
	code, out := runModelCmd(t, "dataset", "audit", "--data", labels, "--backbone", bb, "--engine", "go", "--no-cache",
		"--folds", "3", "--out", csvOut, "--report", rep, "--top", "5")
	if code != exitOK || !strings.Contains(out, "likely missing") || !strings.Contains(out, "out-of-fold mAP") {
		t.Fatalf("exit %d: %s", code, out)
	}
	raw, err := os.ReadFile(csvOut)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if lines[0] != "image,label,kind,score,rank" || len(lines) != 11 {
		t.Errorf("audit CSV (%d lines):\n%s", len(lines), raw)
	}
	page, err := os.ReadFile(filepath.Join(rep, "index.html"))
	if err != nil || !strings.Contains(string(page), "Likely wrong labels") {
		t.Errorf("report page: %v", err)
	}
	for name, args := range map[string][]string{
		"no backbone": {"dataset", "audit", "--data", labels},
		"one fold":    {"dataset", "audit", "--data", labels, "--backbone", bb, "--folds", "1"},
		"no data":     {"dataset", "audit", "--backbone", bb},
	} {
		if code, _ := runModelCmd(t, args...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, exitUsage)
		}
	}
}

// TestDatasetAuditMIML: MIML with 5% of its label entries flipped (seeded, as
// scripts/audit_miml.go does): the audit's top k (k = flipped entries) must hold at
// least 60% of them.
func TestDatasetAuditMIML(t *testing.T) {
	data := sharedtest.Dir(t, "data/miml-scenes")
	bb := sharedtest.Dir(t, "models/squeezenet1.1/squeezenet1.1-fp16.onnx")
	lib := sharedtest.ORTLib(t)
	if testing.Short() {
		t.Skip("short mode")
	}
	dir := t.TempDir()
	d, err := dataset.Load(filepath.Join(data, "labels_onehot.csv"), dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, c := len(d.Samples), len(d.Labels)
	k := n * c / 20
	rng := rand.New(rand.NewPCG(1, 0xf11b))
	flipped := map[string]bool{}
	for _, e := range rng.Perm(n * c)[:k] {
		s := &d.Samples[e/c]
		s.Truth[e%c] = 1 - s.Truth[e%c]
		flipped[s.Image+","+d.Labels[e%c]] = true
	}
	for i := range d.Samples {
		d.Samples[i].Image = d.Samples[i].Path
	}
	noisy := filepath.Join(dir, "noisy.csv")
	if err := dataset.WriteCSV(noisy, d); err != nil {
		t.Fatal(err)
	}
	// The rewritten file names the MIML images by absolute path: outside its own folder.
	code, out := runModelCmd(t, "dataset", "audit", "--data", noisy, "--allow-outside", "--backbone", bb, "--engine", "ort", "--ort-lib", lib,
		"--cache-dir", filepath.Join(dir, "cache"), "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, out)
	}
	var r audit.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	hits := 0
	for _, e := range append(r.Missing, r.Wrong...) {
		if e.Overall <= k && flipped[filepath.Base(e.Image)+","+e.Label] {
			hits++
		}
	}
	frac := float64(hits) / float64(k)
	t.Logf("top-%d holds %d flipped entries (%.1f%%); out-of-fold mAP %.4f, audit %.1fs", k, hits, 100*frac, r.OOFMAP, r.Seconds)
	if frac < 0.6 {
		t.Errorf("top-%d holds %.1f%% of the flipped entries, want >= 60%%", k, 100*frac)
	}
	if r.Seconds > 30 {
		t.Logf("audit took %.1fs (target 30s on cached features)", r.Seconds)
	}
}
