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
