package ort_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// squeezeNet loads the shared SqueezeNet 1.1 (fp16, opset 7, batch fixed to 1).
func squeezeNet(t testing.TB) *backbone.Backbone {
	t.Helper()
	dir := sharedtest.Dir(t, "models/squeezenet1.1")
	b, err := backbone.Load(filepath.Join(dir, "squeezenet1.1-fp16.onnx"), backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawBGR fills a [3,224,224] tensor with BGR values 0..255 (no mean), the input the
// Caffe model classifies correctly as is.
func rawBGR(t testing.TB, path string) []float32 {
	t.Helper()
	img, err := imageio.DecodeFile(path, imageio.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := img.Bounds()
	if r.Dx() != 224 || r.Dy() != 224 {
		t.Fatalf("%s is %dx%d, want 224x224", path, r.Dx(), r.Dy())
	}
	out := make([]float32, 3*224*224)
	for y := 0; y < 224; y++ {
		for x := 0; x < 224; x++ {
			cr, cg, cb, _ := img.At(r.Min.X+x, r.Min.Y+y).RGBA()
			i := y*224 + x
			out[i] = float32(cb >> 8)
			out[224*224+i] = float32(cg >> 8)
			out[2*224*224+i] = float32(cr >> 8)
		}
	}
	return out
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func openORT(t testing.TB, model []byte) *ort.Engine {
	t.Helper()
	lib := sharedtest.ORTLib(t)
	e, err := ort.Open(model, ort.Options{LibPath: lib})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestSqueezeNetClassifies(t *testing.T) {
	t.Parallel()
	b := squeezeNet(t)
	dir := sharedtest.Dir(t, "models/squeezenet1.1")
	model, err := b.ClassifierModel()
	if err != nil {
		t.Fatal(err)
	}
	e := openORT(t, model)
	if got := e.InputShape(); len(got) != 3 || got[0] != 3 || got[1] != 224 || got[2] != 224 {
		t.Fatalf("input shape %v", got)
	}
	kitten, fish := filepath.Join(dir, "kitten_224.png"), filepath.Join(dir, "fish.png")
	in := append(rawBGR(t, kitten), rawBGR(t, fish)...)
	out, err := e.Run(context.Background(), in, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2000 {
		t.Fatalf("got %d outputs, want 2000", len(out))
	}
	if k, f := argmax(out[:1000]), argmax(out[1000:]); k != 281 || f != 0 {
		t.Fatalf("raw BGR: kitten -> %d (p=%.3f), fish -> %d; want 281 and 0", k, out[k], f)
	}
	if p := out[281]; p < 0.85 || p > 0.99 {
		t.Errorf("kitten p(tabby)=%.3f, want about 0.93", p)
	}
	// The built-in spec (BGR, Caffe mean subtracted) classifies them too.
	if b.SpecSource != "builtin squeezenet1_1_fp16" {
		t.Errorf("spec source %q", b.SpecSource)
	}
	buf := make([]float32, 2*b.Spec.TensorLen())
	for i, p := range []string{kitten, fish} {
		if err := imageio.LoadFile(p, b.Spec, buf[i*b.Spec.TensorLen():(i+1)*b.Spec.TensorLen()], imageio.DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	out, err = e.Run(context.Background(), buf, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Measured: with the Caffe mean subtracted the kitten stays tabby (p 0.94) but the
	// fish becomes 389 barracouta (p 0.67) with tench second (p 0.33); raw 0..255 input
	// gives tench (p 0.74). The spec keeps the mean because transfer prefers it.
	if k := argmax(out[:1000]); k != 281 {
		t.Fatalf("with the spec: kitten -> %d, want 281", k)
	}
	fo := out[1000:]
	if f := argmax(fo); f != 0 && (f != 389 || fo[0] < 0.25) {
		t.Fatalf("with the spec: fish -> %d (p=%.3f), tench p=%.3f; want tench first or second", f, fo[f], fo[0])
	}
}

func TestSqueezeNetFeatures(t *testing.T) {
	t.Parallel()
	b := squeezeNet(t)
	dir := sharedtest.Dir(t, "models/squeezenet1.1")
	model, err := b.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	e := openORT(t, model)
	if got := e.OutputShape(); len(got) != 1 || got[0] != 512 {
		t.Fatalf("feature shape %v, want [512]", got)
	}
	one := rawBGR(t, filepath.Join(dir, "kitten_224.png"))
	two := rawBGR(t, filepath.Join(dir, "fish.png"))
	f1, err := e.Run(context.Background(), one, 1)
	if err != nil {
		t.Fatal(err)
	}
	f2, err := e.Run(context.Background(), two, 1)
	if err != nil {
		t.Fatal(err)
	}
	all, err := e.Run(context.Background(), append(append(append([]float32{}, one...), two...), one...), 3)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]float32{}, f1...), f2...), f1...)
	maxAbs, maxDiff := 0.0, 0.0
	for i := range want {
		maxAbs = math.Max(maxAbs, math.Abs(float64(want[i])))
		maxDiff = math.Max(maxDiff, math.Abs(float64(want[i]-all[i])))
	}
	if maxAbs == 0 || maxDiff > 1e-5*maxAbs {
		t.Fatalf("batch 3 vs batch 1: max diff %g (feature scale %g)", maxDiff, maxAbs)
	}
}

func TestConcurrentRun(t *testing.T) {
	t.Parallel()
	b := squeezeNet(t)
	dir := sharedtest.Dir(t, "models/squeezenet1.1")
	model, err := b.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	e := openORT(t, model)
	in := rawBGR(t, filepath.Join(dir, "fish.png"))
	ref, err := e.Run(context.Background(), in, 1)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.Run(context.Background(), in, 1)
			if err == nil {
				for i := range out {
					if math.Abs(float64(out[i]-ref[i])) > 1e-4 {
						err = errors.New("concurrent result differs")
						break
					}
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	b := squeezeNet(t)
	model, err := b.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	e := openORT(t, model)
	if _, err := e.Run(context.Background(), make([]float32, 10), 1); err == nil {
		t.Fatal("wrong input length accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Run(ctx, make([]float32, 3*224*224), 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	if _, err := ort.Open([]byte("not a model"), ort.Options{LibPath: sharedtest.ORTLib(t)}); err == nil {
		t.Fatal("garbage model accepted")
	}
	e.Close()
	if _, err := e.Run(context.Background(), make([]float32, 3*224*224), 1); err == nil {
		t.Fatal("Run after Close succeeded")
	}
}

func TestFindLibrary(t *testing.T) {
	if _, err := ort.FindLibrary(filepath.Join(t.TempDir(), "missing.so")); !errors.Is(err, ort.ErrNoLibrary) {
		t.Fatalf("missing flag path: %v", err)
	}
	lib := sharedtest.ORTLib(t)
	got, err := ort.FindLibrary(lib)
	if err != nil || got != lib {
		t.Fatalf("FindLibrary(%q) = %q, %v", lib, got, err)
	}
	t.Setenv("ONNXRUNTIME_LIB", lib)
	if got, err := ort.FindLibrary(""); err != nil || got != lib {
		t.Fatalf("from ONNXRUNTIME_LIB: %q, %v", got, err)
	}
}

// A graph whose batch is fixed to 1 (as exported) runs n samples one at a time and
// gives what the dynamic-batch normalisation gives.
func TestFixedBatchGraph(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(sharedtest.Root(), "backbone", "testdata", "tiny_gemm.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := openORT(t, raw)
	b, err := backbone.LoadBytes(raw, "tiny_gemm.onnx", backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.ClassifierModel()
	if err != nil {
		t.Fatal(err)
	}
	dyn := openORT(t, m)
	in := make([]float32, 3*3*32*32)
	for i := range in {
		in[i] = float32(i%17) / 17
	}
	a, err := fixed.Run(context.Background(), in, 3)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dyn.Run(context.Background(), in, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if math.Abs(float64(a[i]-c[i])) > 1e-5 {
			t.Fatalf("output %d: fixed-batch %v, dynamic %v", i, a[i], c[i])
		}
	}
}
