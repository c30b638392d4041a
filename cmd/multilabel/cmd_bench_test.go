package main

import (
	"encoding/json"
	"testing"

	"github.com/multilabel/multilabel/internal/bench"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

func TestBenchE2EBadUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--n", "0"},
		{"--images", t.TempDir()},
		{"--model", "nameonly", "--images", sharedtest.Dir(t, "data/miml-scenes/images"), "--python", ""},
	} {
		if code, _ := runCLI(t, append([]string{"bench", "e2e"}, args...)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestBenchE2EQuick runs the benchmark on 8 MIML images with the shared SqueezeNet, the
// shortest settings and no PyTorch: the command works end to end (the figures are not
// checked: the benchmark is not a test).
func TestBenchE2EQuick(t *testing.T) {
	t.Parallel()
	images := sharedtest.Dir(t, "data/miml-scenes/images")
	model := sharedtest.Dir(t, "models/squeezenet1.1/squeezenet1.1-fp16.onnx")
	sharedtest.ORTLib(t)
	code, out := runCLI(t, "bench", "e2e", "--model", "squeezenet1.1="+model, "--images", images, "--n", "8", "--batch-size", "4",
		"--min-time", "30ms", "--latency-runs", "3", "--go-images", "0", "--settings=false", "--python", "", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, out)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rep.Rows) != 1 {
		t.Fatalf("rows: %+v", rep.Rows)
	}
	r := rep.Rows[0]
	if r.Ceiling <= 0 || r.Engine <= 0 || r.EndToEnd <= 0 || r.LatencyP50 <= 0 || r.GFLOPPerImg <= 0 || rep.PeakGFLOPS <= 0 || len(r.Errors) > 0 {
		t.Errorf("row %+v, peak %v", r, rep.PeakGFLOPS)
	}
}

func TestBenchTrainCLI(t *testing.T) {
	t.Parallel()
	code, out := runCLI(t, "bench", "train", "--rows", "linear", "--backends", "go", "--head-epochs", "1", "--seconds", "0.01", "--no-torch", "--json")
	if code != exitOK {
		t.Fatalf("bench train: exit %d: %s", code, out)
	}
	var got struct {
		Rows []struct {
			Name         string   `json:"name"`
			Backend      string   `json:"backend"`
			ImagesPerS   float64  `json:"images_per_s"`
			RatioVsTorch *float64 `json:"ratio_vs_torch"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("bench train --json: %v: %s", err, out)
	}
	if len(got.Rows) != 1 || got.Rows[0].Backend != "go" || !(got.Rows[0].ImagesPerS > 0) || got.Rows[0].RatioVsTorch == nil {
		t.Fatalf("rows %+v", got.Rows)
	}
	for _, bad := range [][]string{{"--rows", "conv"}, {"--backends", "tpu"}, {"--seconds", "0"}} {
		if code, _ := runCLI(t, append([]string{"bench", "train", "--no-torch"}, bad...)...); code != exitUsage {
			t.Errorf("bench train %v: exit %d, want %d", bad, code, exitUsage)
		}
	}
}
