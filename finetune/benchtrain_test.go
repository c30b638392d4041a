package finetune_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/finetune"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// TestBenchTrain runs BenchTrain with a tiny setting: one head epoch on pure Go, and
// one timed step of SqueezeNet's last block on ONNX Runtime when the model and the
// library are there. Speeds are not asserted (tests never assert on wall-clock time).
func TestBenchTrain(t *testing.T) {
	rows, err := finetune.BenchTrain(context.Background(), finetune.BenchOptions{
		Rows: []string{finetune.BenchHeadLinear}, Backends: []string{"go"}, HeadEpochs: 1, NoTorch: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Backend != "go" || rows[0].Name != finetune.BenchHeadLinear || !(rows[0].ImagesPerS > 0) || rows[0].RatioVsTorch != 0 {
		t.Fatalf("rows %+v", rows)
	}
	b, err := json.Marshal(struct {
		Rows []finetune.BenchRow `json:"rows"`
	}{rows})
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && !(rows[0].PeakRSSMB > 0) {
		t.Errorf("no peak RSS on Linux: %+v", rows[0])
	}
	for _, k := range []string{`"name"`, `"backend"`, `"images_per_s"`, `"ratio_vs_torch"`, `"peak_rss_mb"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON %s lacks %s", b, k)
		}
	}
	if _, err := finetune.BenchTrain(context.Background(), finetune.BenchOptions{Backends: []string{"tpu"}, NoTorch: true}); err == nil {
		t.Error("unknown backend accepted")
	}
	if testing.Short() {
		return
	}
	model := filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	lib := sharedtest.ORTLib(t)
	rows, err = finetune.BenchTrain(context.Background(), finetune.BenchOptions{SqueezeNet: model, ORTLib: lib,
		Rows: []string{finetune.BenchSqueezeTail}, Backends: []string{"onnx"}, Seconds: 0.01, MinSteps: 1, NoTorch: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Backend != "onnx" || !(rows[0].ImagesPerS > 0) {
		t.Fatalf("rows %+v", rows)
	}
}
