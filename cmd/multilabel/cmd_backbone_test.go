package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

func runBackbone(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return runCLI(t, args...)
}

func TestBackboneInspectCLI(t *testing.T) {
	t.Parallel()
	fixture := filepath.Join(sharedtest.Root(), "backbone", "testdata", "tiny_gemm.onnx")
	code, out := runBackbone(t, "backbone", "inspect", fixture, "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var r backbone.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.FeatureNode != "/Flatten_output_0" || r.FeatureDim != 16 || r.Opset != 13 || r.Params != 1477 || len(r.Candidates) == 0 {
		t.Fatalf("report %+v", r)
	}
	code, out = runBackbone(t, "backbone", "inspect", "--feature-node", "/Relu_1_output_0", fixture)
	if code != 0 || !strings.Contains(out, "feature node:  /Relu_1_output_0 -> [N,16]") || !strings.Contains(out, "preprocessing: default") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "x.onnx")
	os.WriteFile(bad, []byte("hello"), 0o644)
	if code, _ := runBackbone(t, "backbone", "inspect", bad); code != 2 {
		t.Fatalf("non-ONNX file: exit %d, want 2", code)
	}
	if code, _ := runBackbone(t, "backbone", "inspect"); code != 2 {
		t.Fatalf("no file: exit %d, want 2", code)
	}
	if code, out := runBackbone(t, "backbone", "zoo"); code != 0 || !strings.Contains(out, "resnet50") {
		t.Fatalf("zoo: exit %d\n%s", code, out)
	}
}

// TestBackboneInspectBlocksCLI: inspect lists the blocks that --unfreeze can cut, in
// the text and the JSON output.
func TestBackboneInspectBlocksCLI(t *testing.T) {
	t.Parallel()
	p := filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	code, out := runBackbone(t, "backbone", "inspect", p)
	if code != 0 || !strings.Contains(out, "K=1   fire9") || !strings.Contains(out, "K=2   fire8") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out = runBackbone(t, "backbone", "inspect", "--json", p)
	var r backbone.Report
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	n := len(r.Blocks)
	if n < 2 || r.Blocks[n-1].Name != "fire9" || r.Blocks[n-2].Name != "fire8" {
		t.Errorf("blocks %+v", r.Blocks)
	}
}

// TestBackboneZooCachedAndNames: zoo marks the entries already in the cache directory
// (text and JSON) and lists the timm/torchvision names with the old ones as aliases.
func TestBackboneZooCachedAndNames(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	models := filepath.Join(cache, "multilabel", "models")
	if err := os.MkdirAll(models, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(models, "squeezenet1.1-7.onnx"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := runBackbone(t, "backbone", "zoo")
	if code != 0 {
		t.Fatalf("zoo: exit %d\n%s", code, out)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 4 {
			rows[f[0]] = f[3]
		}
	}
	if rows["squeezenet1_1"] != "yes" || rows["resnet50"] != "no" || rows["mobilenet_v2"] != "no" || rows["squeezenet1_1_fp16"] != "no" {
		t.Errorf("cached column %v:\n%s", rows, out)
	}
	if !strings.Contains(out, "(also squeezenet, squeezenet1.1-fp16)") || !strings.Contains(out, "(also mobilenetv2)") {
		t.Errorf("old names not listed as aliases:\n%s", out)
	}
	code, out = runBackbone(t, "backbone", "zoo", "--json")
	var js []struct {
		Name   string `json:"name"`
		Cached bool   `json:"cached"`
		Path   string `json:"path"`
	}
	if err := json.Unmarshal([]byte(out), &js); code != 0 || err != nil || len(js) != len(backbone.Zoo) {
		t.Fatalf("zoo --json: exit %d, %v: %s", code, err, out)
	}
	for _, z := range js {
		if want := z.Name == "squeezenet1_1"; z.Cached != want || (want && z.Path != filepath.Join(models, "squeezenet1.1-7.onnx")) {
			t.Errorf("zoo --json: %+v", z)
		}
	}
}
