package train

import (
	"context"
	"syscall"
	"testing"

	"github.com/multilabel/multilabel/internal/benchdata"
)

func benchFit(b *testing.B, headKind string) {
	x, y := benchdata.Heads()
	cfg := DefaultConfig()
	cfg.Head = headKind
	cfg.Epochs, cfg.BatchSize, cfg.Patience = benchEpochs, 64, 0
	b.ResetTimer()
	c0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		if _, err := Fit(context.Background(), cfg, x, y, nil, nil, 512, Callbacks{}); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time is steadier than wall time on a shared machine; the bench script
	// compares it with PyTorch's process time.
	b.ReportMetric((cpuSeconds()-c0)/float64(b.N), "cpu-s/op")
}

// cpuSeconds returns the process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// BenchmarkFitLinear trains the linear head for 100 epochs (1,900 steps of 64 rows).
// scripts/bench_head.sh runs it beside the same training in PyTorch and prints the ratio.
func BenchmarkFitLinear(b *testing.B) { benchFit(b, "linear") }

// BenchmarkFitMLP trains the MLP head (512 hidden, dropout 0.2) for 100 epochs.
func BenchmarkFitMLP(b *testing.B) { benchFit(b, "mlp") }

// benchEpochs is 100 (the benchmark); lower it locally to profile.
var benchEpochs = 100
