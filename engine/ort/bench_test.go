package ort_test

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	rt "github.com/yalue/onnxruntime_go"

	"github.com/multilabel/multilabel/engine/enginetest"

	"github.com/multilabel/multilabel/internal/sharedtest"
)

const benchBatch = 32

// BenchmarkSqueezeNetEngine: the project's engine on the SqueezeNet feature graph
// (float32, dynamic batch), batch 32, pre-made input.
func BenchmarkSqueezeNetEngine(b *testing.B) {
	model, err := squeezeNet(b).FeatureModel()
	if err != nil {
		b.Fatal(err)
	}
	e := openORT(b, model)
	in := make([]float32, benchBatch*3*224*224)
	for i := range in {
		in[i] = float32(i%255) - 120
	}
	ctx := context.Background()
	if _, err := e.Run(ctx, in, benchBatch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Run(ctx, in, benchBatch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "images/s")
}

// bareSession runs model with onnxruntime_go directly: tensors made once, same thread
// settings as the engine. It is the ceiling the engine is compared against.
func bareSession(b *testing.B, model []byte, in, out rt.Value, inName, outName string) {
	so, err := rt.NewSessionOptions()
	if err != nil {
		b.Fatal(err)
	}
	defer so.Destroy()
	so.SetIntraOpNumThreads(runtime.NumCPU())
	so.SetInterOpNumThreads(1)
	s, err := rt.NewAdvancedSessionWithONNXData(model, []string{inName}, []string{outName}, []rt.Value{in}, []rt.Value{out}, so)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Destroy()
	if err := s.Run(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkSqueezeNetBare: the same float32 feature graph in a bare ONNX Runtime session.
func BenchmarkSqueezeNetBare(b *testing.B) {
	bb := squeezeNet(b)
	model, err := bb.FeatureModel()
	if err != nil {
		b.Fatal(err)
	}
	openORT(b, model)
	in, err := rt.NewEmptyTensor[float32](rt.NewShape(benchBatch, 3, 224, 224))
	if err != nil {
		b.Fatal(err)
	}
	defer in.Destroy()
	d := in.GetData()
	for i := range d {
		d[i] = float32(i%255) - 120
	}
	out, err := rt.NewEmptyTensor[float32](rt.NewShape(benchBatch, 512))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Destroy()
	bareSession(b, model, in, out, bb.Input, "multilabel_features")
}

// BenchmarkSqueezeNetFP16StoredVsFP32 alternates batch-1 runs of the shared file as
// stored (float16, bare session) and of its float32 conversion through the engine, and
// reports both rates (median per-image time) and their ratio.
func BenchmarkSqueezeNetFP16StoredVsFP32(b *testing.B) {
	p := filepath.Join(sharedtest.Dir(b, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	model, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	fp32, err := squeezeNet(b).ClassifierModel()
	if err != nil {
		b.Fatal(err)
	}
	e := openORT(b, fp32)
	raw := make([]byte, 2*3*224*224)
	for i := 0; i < len(raw)/2; i++ {
		binary.LittleEndian.PutUint16(raw[2*i:], 0x5000) // 32.0
	}
	in, err := rt.NewCustomDataTensor(rt.NewShape(1, 3, 224, 224), raw, rt.TensorElementDataTypeFloat16)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Destroy()
	out, err := rt.NewCustomDataTensor(rt.NewShape(1, 1000, 1, 1), make([]byte, 2000), rt.TensorElementDataTypeFloat16)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Destroy()
	so, err := rt.NewSessionOptions()
	if err != nil {
		b.Fatal(err)
	}
	defer so.Destroy()
	so.SetIntraOpNumThreads(runtime.NumCPU())
	so.SetInterOpNumThreads(1)
	s, err := rt.NewAdvancedSessionWithONNXData(model, []string{"data_0"}, []string{"softmaxout_1"}, []rt.Value{in}, []rt.Value{out}, so)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Destroy()
	x := make([]float32, 3*224*224)
	for i := range x {
		x[i] = 32
	}
	ctx := context.Background()
	var t16, t32 []time.Duration
	for i := -1; i < b.N; i++ {
		t0 := time.Now()
		if err := s.Run(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := e.Run(ctx, x, 1); err != nil {
			b.Fatal(err)
		}
		if i >= 0 {
			t16 = append(t16, t1.Sub(t0))
			t32 = append(t32, time.Since(t1))
		}
	}
	m16, m32 := median(t16), median(t32)
	b.ReportMetric(1/m16.Seconds(), "fp16_stored_images/s")
	b.ReportMetric(1/m32.Seconds(), "fp32_engine_images/s")
	b.ReportMetric(m16.Seconds()/m32.Seconds(), "fp32/fp16")
}

// BenchmarkSqueezeNetEngineBatch1: the engine on one image per call (predict latency).
func BenchmarkSqueezeNetEngineBatch1(b *testing.B) {
	model, err := squeezeNet(b).ClassifierModel()
	if err != nil {
		b.Fatal(err)
	}
	e := openORT(b, model)
	in := make([]float32, 3*224*224)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Run(ctx, in, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkSqueezeNetEngineVsBare alternates one batch of 32 through the engine and one
// through a bare session on the same graph and reports both rates from the median batch
// times and their ratio, which stays meaningful when other processes load the machine.
func BenchmarkSqueezeNetEngineVsBare(b *testing.B) {
	bb := squeezeNet(b)
	model, err := bb.FeatureModel()
	if err != nil {
		b.Fatal(err)
	}
	e := openORT(b, model)
	in, err := rt.NewEmptyTensor[float32](rt.NewShape(benchBatch, 3, 224, 224))
	if err != nil {
		b.Fatal(err)
	}
	defer in.Destroy()
	d := in.GetData()
	for i := range d {
		d[i] = float32(i%255) - 120
	}
	out, err := rt.NewEmptyTensor[float32](rt.NewShape(benchBatch, 512))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Destroy()
	so, err := rt.NewSessionOptions()
	if err != nil {
		b.Fatal(err)
	}
	defer so.Destroy()
	so.SetIntraOpNumThreads(runtime.NumCPU())
	so.SetInterOpNumThreads(1)
	s, err := rt.NewAdvancedSessionWithONNXData(model, []string{bb.Input}, []string{"multilabel_features"}, []rt.Value{in}, []rt.Value{out}, so)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Destroy()
	ctx := context.Background()
	var te, tb []time.Duration
	for i := -1; i < b.N; i++ { // i == -1 warms both up
		t0 := time.Now()
		if _, err := e.Run(ctx, d, benchBatch); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := s.Run(); err != nil {
			b.Fatal(err)
		}
		if i >= 0 {
			te = append(te, t1.Sub(t0))
			tb = append(tb, time.Since(t1))
		}
	}
	me, mb := median(te), median(tb)
	b.ReportMetric(benchBatch/me.Seconds(), "engine_images/s")
	b.ReportMetric(benchBatch/mb.Seconds(), "bare_images/s")
	b.ReportMetric(mb.Seconds()/me.Seconds(), "engine/bare")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkTinyRun measures the engine's per-call overhead (and allocations) on a graph
// whose compute is negligible: the conformance fixture, batch 4.
func BenchmarkTinyRun(b *testing.B) {
	e := openORT(b, enginetest.TinyModel())
	in := make([]float32, 4*3*8*8)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Run(ctx, in, 4); err != nil {
			b.Fatal(err)
		}
	}
}
