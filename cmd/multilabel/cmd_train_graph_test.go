package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/model/modeltest"
)

// writeMIMLPart writes the rows i (0-based, header aside) with i % every == at of MIML's
// one-hot label file as a CSV of its own (the file is sorted by scene: a stride samples
// every scene).
func writeMIMLPart(t *testing.T, src, dst string, every, at int) {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n")
	out := []string{lines[0]}
	for i, l := range lines[1:] {
		if i%every == at && l != "" {
			out = append(out, l)
		}
	}
	if err := os.WriteFile(dst, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTrainGraphMIML trains the graph head on real MIML images (400 of them, SqueezeNet
// features through the feature cache) and checks that the bundle, which stores it as a
// linear head, gives the training run's test figures when eval runs it through ONNX
// Runtime, and that the label graph is reported and recorded.
func TestTrainGraphMIML(t *testing.T) {
	t.Parallel()
	data := sharedtest.Dir(t, "data/miml-scenes")
	models := sharedtest.Dir(t, "models/squeezenet1.1")
	ortLib := sharedtest.ORTLib(t)
	dir := t.TempDir()
	tr, te := filepath.Join(dir, "train.csv"), filepath.Join(dir, "test.csv")
	writeMIMLPart(t, filepath.Join(data, "labels_onehot.csv"), tr, 5, 0)  // 300 images
	writeMIMLPart(t, filepath.Join(data, "labels_onehot.csv"), te, 15, 2) // 100 images
	images := filepath.Join(data, "images")
	mlb := filepath.Join(dir, "graph.mlb")
	code, out := runModelCmd(t, "train", "--data", tr, "--test", te, "--images", images,
		"--backbone", filepath.Join(models, "squeezenet1.1-fp16.onnx"), "--ort-lib", ortLib,
		"--head", "graph", "--graph-tau", "0.05", "--epochs", "30", "--out", mlb, "--json")
	if code != exitOK {
		t.Fatalf("train --head graph: exit %d: %s", code, out)
	}
	var s struct {
		Test struct {
			MAP float64 `json:"mAP"`
		} `json:"test"`
		Graph *graphSummary `json:"graph"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if s.Graph == nil || s.Graph.Edges == 0 || s.Graph.Tau != 0.05 || s.Graph.P != 0.2 {
		t.Fatalf("label graph not reported: %+v", s.Graph)
	}
	if s.Test.MAP < 0.7 {
		t.Errorf("test mAP %.3f < 0.7", s.Test.MAP)
	}
	b, err := bundle.Read(mlb)
	if err != nil {
		t.Fatal(err)
	}
	if b.Head.Kind != "linear" || !strings.Contains(string(b.Training), `"graph"`) || !strings.Contains(string(b.Training), `"adj"`) {
		t.Errorf("bundle head %q; training record lacks the graph head and its label graph", b.Head.Kind)
	}
	code, out = runModelCmd(t, "eval", "--model", mlb, "--data", te, "--images", images, "--ort-lib", ortLib, "--json")
	if code != exitOK {
		t.Fatalf("eval: exit %d: %s", code, out)
	}
	var ev struct {
		MAP float64 `json:"mAP"`
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if math.Abs(ev.MAP-s.Test.MAP) > 1e-4 {
		t.Errorf("eval of the bundle: mAP %.6f, training run's test mAP %.6f", ev.MAP, s.Test.MAP)
	}
}

// Bad graph-head input from the CLI: the graph flags without --head graph, values out of
// range; and a label that never occurs in the training share is stated, not an error.
func TestTrainGraphCLIBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 60, 2)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "m.mlb")
	for name, args := range map[string][]string{
		"tau without graph":    {"--graph-tau", "0.3"},
		"p without graph":      {"--head", "mlp", "--graph-p", "0.3"},
		"hidden without graph": {"--graph-hidden", "8"},
		"tau > 1":              {"--head", "graph", "--graph-tau", "1.5"},
		"tau 0":                {"--head", "graph", "--graph-tau", "-1"},
		"p 1":                  {"--head", "graph", "--graph-p", "1"},
		"negative width":       {"--head", "graph", "--graph-hidden", "-3"},
	} {
		a := append([]string{"train", "--data", labels, "--backbone", bb, "--out", out, "--engine", "go", "--no-cache"}, args...)
		if code, msg := runModelCmd(t, a...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d: %s", name, code, exitUsage, msg)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused train left a bundle behind")
	}

	// A label column that is never positive: the graph keeps it isolated and says so.
	raw, err := os.ReadFile(labels)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	for i := range lines {
		if i == 0 {
			lines[i] += ",never"
		} else {
			lines[i] += ",0"
		}
	}
	never := filepath.Join(dir, "never.csv")
	if err := os.WriteFile(never, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, msg := runModelCmd(t, "train", "--data", never, "--backbone", bb, "--out", out, "--engine", "go", "--no-cache",
		"--head", "graph", "--epochs", "3")
	if code != exitOK {
		t.Fatalf("train --head graph with a never-positive label: exit %d: %s", code, msg)
	}
	if !strings.Contains(msg, "no positive training image: never") {
		t.Errorf("the never-positive label is not stated:\n%s", msg)
	}
}
