package bench

import (
	"context"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

func mimlPaths(b testing.TB, n int) []string {
	dir := sharedtest.Dir(b, "data/miml-scenes/images")
	paths, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(paths) < n {
		b.Fatalf("MIML images: %v (%d)", err, len(paths))
	}
	slices.Sort(paths)
	return paths[:n]
}

// mallocs counts heap allocations.
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// BenchmarkLoaderSteadyState: heap allocations per image of the pipelined loader (files
// -> tensors, ImageNet spec, JPEG decoder as registered), per pass over 256 MIML images.
// Run with -memprofile to see where they come from.
func BenchmarkLoaderSteadyState(b *testing.B) {
	paths := mimlPaths(b, 256)
	s := imageio.ImageNetSpec()
	var allocs uint64
	n := 0
	for b.Loop() {
		a0 := mallocs()
		l := imageio.NewLoader(context.Background(), paths, s, imageio.LoaderOptions{BatchSize: 32})
		for {
			bt, err := l.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += bt.N
			l.Release(bt)
		}
		l.Close()
		allocs += mallocs() - a0
	}
	b.ReportMetric(float64(allocs)/float64(n), "allocs/image")
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "images/s")
	b.Logf("JPEG decoder %q", imageio.FastJPEG())
}

// BenchmarkExtractSteadyState: files -> features through featcache.Extract (no cache)
// with ONNX Runtime on the shared SqueezeNet: images/s and heap allocations per image.
func BenchmarkExtractSteadyState(b *testing.B) {
	paths := mimlPaths(b, 256)
	lib := sharedtest.ORTLib(b)
	bb, err := backbone.Load(sharedtest.Dir(b, "models/squeezenet1.1/squeezenet1.1-fp16.onnx"), backbone.Options{})
	if err != nil {
		b.Fatal(err)
	}
	fm, err := bb.FeatureModel()
	if err != nil {
		b.Fatal(err)
	}
	eng, err := ort.Open(fm, ort.Options{LibPath: lib, NoSpinning: true})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	var allocs uint64
	n := 0
	for b.Loop() {
		a0 := mallocs()
		f, err := featcache.Extract(context.Background(), eng, bb, paths, featcache.ExtractOptions{BatchSize: 32})
		if err != nil || len(f.Bad) > 0 {
			b.Fatal(err, f.Bad)
		}
		allocs += mallocs() - a0
		n += len(paths)
	}
	b.ReportMetric(float64(allocs)/float64(n), "allocs/image")
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "images/s")
}
