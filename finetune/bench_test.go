package finetune

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"

	"github.com/multilabel/multilabel/internal/backends"
	"github.com/multilabel/multilabel/internal/memstat"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// benchStep times AdamW training steps of SqueezeNet 1.1's tail from --unfreeze u plus
// a linear head (5 labels) on random activations of the cut, batch b, on each backend
// available (sub-benchmarks go, onnx), and reports images/s. scripts/bench_finetune.sh
// compares them with PyTorch in the same run.
func benchStep(b *testing.B, u string, batch int) {
	defer elemGradEnv()()
	// FINETUNE_ONNX_NATIVE1=0|1 overrides the measured lowering choice on ONNX Runtime
	// (stride-1 convolutions native or im2col), to measure both; FINETUNE_ONNX_CONVGRAD=0|1
	// the kernel gradient of native convolutions there (GoMLX's or im2col + MatMul);
	// FINETUNE_ONNX_NATIVEPOOLS=0|1 max pooling (native with maxPoolGrad, or taps).
	defer boolEnv(map[string]*bool{"FINETUNE_SEPARABLE_POOLS": &separablePools, "FINETUNE_ONNX_NATIVE1": &onnxNative1,
		"FINETUNE_ONNX_CONVGRAD": &onnxConvGrad, "FINETUNE_ONNX_MAXGRAD": &onnxMaxGrad,
		"FINETUNE_ONNX_NATIVEPOOLS": &onnxNativePools, "FINETUNE_ONNX_NATIVESTRIDED": &onnxNativeStrided})()
	model := filepath.Join(sharedtest.Dir(b, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	b.Run("go", func(b *testing.B) {
		runBenchStep(b, model, u, batch, gobackend.GetBackend())
	})
	b.Run("onnx", func(b *testing.B) {
		c, err := backends.Select(backends.ONNX, backends.Options{ORTLib: sharedtest.ORTLib(b)})
		if err != nil {
			b.Fatal(err)
		}
		runBenchStep(b, model, u, batch, c.Backend)
	})
}

func runBenchStep(tb *testing.B, model, u string, b int, be compute.Backend) {
	st, err := newModelStep(model, u, b, be, false)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.close()
	if err := st.step(); err != nil { // compile
		tb.Fatal(err)
	}
	tb.ResetTimer()
	c0 := cpuSeconds()
	for i := 0; i < tb.N; i++ {
		if err := st.step(); err != nil {
			tb.Fatal(err)
		}
	}
	tb.ReportMetric(float64(b*tb.N)/tb.Elapsed().Seconds(), "images/s")
	// Images per CPU second of the process: steadier than wall time on a shared machine
	// (compare with bench_finetune.py's images_per_cpu_s at the same thread count).
	tb.ReportMetric(float64(b*tb.N)/(cpuSeconds()-c0), "images/cpu-s")
	tb.ReportMetric(float64(st.tailP), "tail-params")
}

// cpuSeconds is the user + system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return math.NaN()
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkStepTail: fire9 (the last block) + head, on cached fire8 activations, b32.
func BenchmarkStepTail(b *testing.B) { benchStep(b, "1", 32) }

// BenchmarkStepWhole: the whole SqueezeNet 1.1 + head on 224×224 images, b8.
func BenchmarkStepWhole(b *testing.B) { benchStep(b, "all", 8) }

// BenchmarkStepWhole32: the whole SqueezeNet 1.1 + head on 224×224 images, b32.
func BenchmarkStepWhole32(b *testing.B) { benchStep(b, "all", 32) }

// elemGradEnv applies FINETUNE_ONNX_BCASTGRAD=0|1 (onnxBroadcastGrad: the gradients of
// broadcast Mul/Div), FINETUNE_ONNX_BNGRAD=0|1 (onnxBNGrad: the closed-form batch-norm
// gradient), FINETUNE_BATCHED_POINTWISE=0|1 (batchedPointwise: 1×1 kernel gradients
// per image) and FINETUNE_FOLD_BN=0|1 (foldFrozenBN) and returns what restores them.
func elemGradEnv() func() {
	return boolEnv(map[string]*bool{"FINETUNE_ONNX_BCASTGRAD": &onnxBroadcastGrad, "FINETUNE_ONNX_BNGRAD": &onnxBNGrad,
		"FINETUNE_BATCHED_POINTWISE": &batchedPointwise, "FINETUNE_FOLD_BN": &foldFrozenBN})
}

// boolEnv sets each flag whose environment variable is set (to "1": true, else false)
// and returns what restores them.
func boolEnv(flags map[string]*bool) func() {
	var undo []func()
	for name, p := range flags {
		if v := os.Getenv(name); v != "" {
			old := *p
			*p = v == "1"
			undo = append(undo, func() { *p = old })
		}
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}

// BenchmarkStepArch: the whole ResNet-18 and MobileNetV2 (random weights, the 64×64
// exports of scripts/make_bench_models.py, batch statistics) + head, b32, on ONNX
// Runtime, reporting images per CPU second and the peak RSS of the sub-benchmark.
// FINETUNE_ONNX_NATIVEDEPTHWISE=0|1 overrides the depthwise lowering (native with
// depthwiseGrads, or per-channel im2col products).
func BenchmarkStepArch(b *testing.B) {
	// FINETUNE_ONEHOT_MAXC=N: oneHotMaxChannels (0: the NHWC Concat for every strided
	// kernel gradient).
	if v := os.Getenv("FINETUNE_ONEHOT_MAXC"); v != "" {
		old := oneHotMaxChannels
		oneHotMaxChannels, _ = strconv.Atoi(v)
		defer func() { oneHotMaxChannels = old }()
	}
	defer elemGradEnv()()
	if v := os.Getenv("FINETUNE_ONNX_NATIVEDEPTHWISE"); v != "" {
		old := onnxNativeDepthwise
		onnxNativeDepthwise = v == "1"
		defer func() { onnxNativeDepthwise = old }()
	}
	dir := BenchModelsDir()
	if err := MakeBenchModels(context.Background(), "", filepath.Join("..", "scripts"), dir); err != nil {
		b.Skipf("ResNet-18 / MobileNetV2 not available: %v", err)
	}
	c, err := backends.Select(backends.ONNX, backends.Options{ORTLib: sharedtest.ORTLib(b)})
	if err != nil {
		b.Fatal(err)
	}
	for _, arch := range []string{ArchResNet18, ArchMobileNetV2} {
		b.Run(arch, func(b *testing.B) {
			memstat.ResetPeak()
			st, err := newModelStep(BenchModel(dir, arch, "-64"), "all", 32, c.Backend, true)
			if err != nil {
				b.Fatal(err)
			}
			defer st.close()
			if err := st.step(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			c0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				if err := st.step(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(32*b.N)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric(float64(32*b.N)/(cpuSeconds()-c0), "images/cpu-s")
			b.ReportMetric(memstat.PeakRSSMB(), "peak-rss-MB")
		})
	}
}
