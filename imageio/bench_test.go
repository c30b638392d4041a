package imageio

import (
	"context"
	"image"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/multilabel/multilabel/internal/sharedtest"
)

func mimlPaths(b *testing.B) []string {
	dir := sharedtest.Dir(b, "data/miml-scenes/images")
	paths, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("no MIML JPEGs in %s: %v", dir, err)
	}
	return paths
}

// BenchmarkLoaderMIML measures decode + resize + normalize to 224×224 (ImageNetSpec) of
// all MIML JPEGs through the parallel loader, in images/s and CPU ms per image. The peer
// is testdata/bench_pillow.py (Pillow + numpy, the torchvision eval transform); compare
// it with -cpu 1 (one worker) in the same run of the machine.
func BenchmarkLoaderMIML(b *testing.B) {
	paths := mimlPaths(b)
	s := ImageNetSpec()
	b.ReportAllocs()
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		l := NewLoader(context.Background(), paths, s, LoaderOptions{Workers: runtime.GOMAXPROCS(0), Prefetch: 4, BatchSize: 32})
		for {
			bt, err := l.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if bt.Failed() > 0 {
				b.Fatalf("batch at %d: %d failed", bt.Start, bt.Failed())
			}
			n += bt.N
			l.Release(bt)
		}
		l.Close()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "images/s")
	// On a shared machine the wall-clock rate depends on the other load; the CPU time
	// per image (all threads of this process) does not.
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(n), "cpu-ms/image")
}

// BenchmarkDecodeMIML is the decode share of the loader, on one core.
func BenchmarkDecodeMIML(b *testing.B) {
	paths := mimlPaths(b)[:64]
	data := make([][]byte, len(paths))
	for i, p := range paths {
		var err error
		if data[i], err = os.ReadFile(p); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := DecodeBytes(data[i%len(data)], DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(i), "cpu-ms/image")
}

// BenchmarkFillMIML is the resize + normalize share of the loader, on one core.
func BenchmarkFillMIML(b *testing.B) {
	paths := mimlPaths(b)[:64]
	imgs := make([]image.Image, len(paths))
	for i, p := range paths {
		img, err := DecodeFile(p, DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		imgs[i] = img
	}
	s := ImageNetSpec()
	dst := make([]float32, s.TensorLen())
	b.ReportAllocs()
	i := 0
	cpu0 := cpuTime()
	for b.Loop() {
		s.Fill(imgs[i%len(imgs)], dst)
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(i), "cpu-ms/image")
}
