package bench_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/internal/bench"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// TestRunUsage is Run's usage example, run: a benchmark of one model over image files,
// printed with WriteTable. It was an Example without output (it needs ONNX Runtime, an
// ONNX backbone and images); as a test it runs on the shared SqueezeNet and MIML images
// with the shortest settings and no PyTorch column, and skips where they are absent.
// The figures are not checked: the benchmark is not a test.
func TestRunUsage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	images := sharedtest.Dir(t, "data/miml-scenes/images")
	model := filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	lib := sharedtest.ORTLib(t)
	files, err := filepath.Glob(filepath.Join(images, "*.jpg"))
	if err != nil || len(files) < 8 {
		t.Fatalf("images in %s: %d, %v", images, len(files), err)
	}
	rep, err := bench.Run(context.Background(), bench.Options{
		Models:  []bench.Model{{Name: "squeezenet1.1", Path: model, TorchName: "squeezenet1.1"}},
		Images:  files[:8],
		Threads: 2, Workers: 2, // ONNX Runtime intra-op threads and loader goroutines
		MaxImages: 8, Batch: 4, MinTime: 30 * time.Millisecond, LatencyRuns: 3, ORTLib: lib,
		GoImages: 0,  // 0 skips the pure-Go column
		Python:   "", // "" skips the PyTorch column
	})
	if err != nil {
		t.Fatal("bench:", err)
	}
	var out bytes.Buffer
	rep.WriteTable(&out)
	if len(rep.Rows) != 1 || !strings.Contains(out.String(), "squeezenet1.1") {
		t.Fatalf("rows %+v, table:\n%s", rep.Rows, out.String())
	}
}

func ExampleReport_WriteTable() {
	rep := &bench.Report{Batch: 32, Images: 512, PeakGFLOPS: 420, NumCPU: 2, GOMAXPROCS: 2, Threads: 2, Workers: 2,
		JPEGDecoder: "libjpeg-turbo", ORTVersion: "1.24.1", LoadBefore: "0.10 0.20 0.30", LoadAfter: "1.10 0.50 0.40",
		Rows: []bench.Row{{Model: "resnet18", GFLOPPerImg: 3.64, Ceiling: 110, Engine: 108, EndToEnd: 95, LatencyP50: 12, LatencyP99: 15}}}
	rep.WriteTable(os.Stdout)
	// Output:
	// images/s, batch 32, 512 images per end-to-end pass; (×) = ratio to the ceiling (bare ONNX Runtime on pre-made tensors)
	//      model  GFLOP/img  ceiling         engine    end-to-end  PyTorch e2e  GoMLX  ceiling GFLOP/s  e2e GFLOP/s  % peak (e2e)  p50 ms  p99 ms
	//   resnet18       3.64    110.0  108.0 (0.98×)  95.0 (0.86×)            -      -              400          346           82%    12.0    15.0
	// peak: 420 GFLOP/s (float32 GEMM 1024³ in ONNX Runtime 1.24.1, 2 threads, best window)
	// machine: 2 CPUs, GOMAXPROCS 2; ORT intra-op threads 2, loader workers 2; JPEG decoder: libjpeg-turbo
	// load average: 0.10 0.20 0.30 before, 1.10 0.50 0.40 after (0 s)
}
