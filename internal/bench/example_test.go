package bench_test

import (
	"context"
	"fmt"
	"os"

	"github.com/multilabel/multilabel/internal/bench"
)

// Run needs ONNX Runtime, an ONNX backbone and image files; WriteTable prints the table.
func ExampleRun() {
	rep, err := bench.Run(context.Background(), bench.Options{
		Models:  []bench.Model{{Name: "squeezenet1.1", Path: "squeezenet1.1-fp16.onnx", TorchName: "squeezenet1.1"}},
		Images:  []string{"1.jpg", "2.jpg"},
		Threads: 2, Workers: 2, // ONNX Runtime intra-op threads and loader goroutines
		GoImages: 2,
		Python:   "", // "" skips the PyTorch column
	})
	if err != nil {
		fmt.Println("bench:", err)
		return
	}
	rep.WriteTable(os.Stdout)
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
