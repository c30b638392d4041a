package metric

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the process's user+system CPU time, to report alongside wall time:
// on a shared, loaded machine the CPU time per operation is the stable figure.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchCPU(b *testing.B, f func()) {
	b.ResetTimer()
	c0 := cpuTime()
	for range b.N {
		f()
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N)/1e6, "cpu-ms/op")
}

// BenchmarkEvaluate measures the full metric set (AP, mAP, thresholded and top-3
// figures, F1s, example-based metrics) on COCO-val-sized data: 40,000 images × 80
// labels, about 3 positives per image.
func BenchmarkEvaluate(b *testing.B) {
	const n, nl = 40000, 80
	s, tr := randomData(n, nl, 0.036, 11)
	labels := make([]string, nl)
	for j := range labels {
		labels[j] = string(rune('A'+j%26)) + string(rune('a'+j/26))
	}
	benchCPU(b, func() {
		if _, err := Evaluate(s, tr, labels, Options{}); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkBootstrap100 measures a 100-resample mAP interval at the same size.
func BenchmarkBootstrap100(b *testing.B) {
	s, tr := randomData(40000, 80, 0.036, 11)
	benchCPU(b, func() {
		if _, _, err := BootstrapMAP(s, tr, 100, 1, 0.95); err != nil {
			b.Fatal(err)
		}
	})
}
