package cnn

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/multilabel/multilabel/engine"
	egomlx "github.com/multilabel/multilabel/engine/gomlx"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

var tinyArch = Arch{Size: 8, Widths: [3]int{3, 4, 5}, Classes: 6}

func randomInput(n, size int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*3*size*size)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// perturbed returns a network whose biases are non-zero too, so the export of every
// tensor is exercised.
func perturbed(t *testing.T, a Arch) *Net {
	t.Helper()
	n, err := New(a, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range n.Params {
		for k := range n.Params[i].Data {
			n.Params[i].Data[k] += float32(0.05 * rng.NormFloat64())
		}
	}
	return n
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func checkEngine(t *testing.T, e engine.Engine, net *Net, x []float32, n int) {
	t.Helper()
	defer e.Close()
	got, err := e.Run(context.Background(), x, n)
	if err != nil {
		t.Fatal(err)
	}
	want, err := net.Run(x, n, 0, NumStages, Logits, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, want %d", e.Name(), len(got), len(want))
	}
	if d := maxDiff(got, want); d > 1e-4 {
		t.Fatalf("%s: max abs diff %g against the GoMLX forward, want <= 1e-4", e.Name(), d)
	} else {
		t.Logf("%s: max abs diff %g", e.Name(), d)
	}
}

// TestExportMatchesForward runs the exported ONNX with the pure-Go ONNX engine
// (onnx-gomlx) and, where its library is installed, ONNX Runtime, against the network's
// own GoMLX forward pass.
func TestExportMatchesForward(t *testing.T) {
	t.Parallel()
	net := perturbed(t, tinyArch)
	data, err := net.ExportONNX("test")
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	x := randomInput(n, tinyArch.Size, 9)
	e, err := egomlx.Open(data, egomlx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkEngine(t, e, net, x, n)
	if lib := sharedtest.FindORTLib(); lib != "" {
		oe, err := ort.Open(data, ort.Options{LibPath: lib, IntraOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		checkEngine(t, oe, net, x, n)
	} else {
		t.Log("ONNX Runtime library not found: checked the pure-Go engine only")
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	net := perturbed(t, tinyArch)
	data, err := net.ExportONNX("doc")
	if err != nil {
		t.Fatal(err)
	}
	again, err := net.ExportONNX("doc")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Fatal("two exports of the same weights differ")
	}
	back, err := ImportONNX(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Arch != net.Arch {
		t.Fatalf("arch %+v, want %+v", back.Arch, net.Arch)
	}
	for i := range net.Params {
		if maxDiff(back.Params[i].Data, net.Params[i].Data) != 0 {
			t.Fatalf("parameter %s changed in the round trip", net.Params[i].Name)
		}
	}
	if !IsSynth(data) || IsSynth([]byte("junk")) {
		t.Fatal("IsSynth")
	}
	if _, err := ImportONNX(data[:len(data)/2]); err == nil {
		t.Fatal("truncated model imported without error")
	}
}

// FuzzImportONNX feeds ImportONNX arbitrary bytes: it must return a network or an error,
// never panic.
func FuzzImportONNX(f *testing.F) {
	net, err := New(Arch{Size: 4, Widths: [3]int{1, 2, 1}, Classes: 2}, 1)
	if err != nil {
		f.Fatal(err)
	}
	data, err := net.ExportONNX("fuzz")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)/3])
	f.Add([]byte{})
	f.Add([]byte("\x08\x07junk"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ImportONNX(b)
		if err == nil {
			if verr := n.Arch.Validate(); verr != nil {
				t.Fatalf("imported an invalid arch: %v", verr)
			}
			for _, p := range n.Params {
				if prod(p.Dims) != len(p.Data) {
					t.Fatalf("parameter %s: %d values for %v", p.Name, len(p.Data), p.Dims)
				}
			}
		}
	})
}

// BenchmarkTrainStep measures training throughput (images per second) of the demo's
// network on 24×24 images, the cost that dominates the scratch baseline.
func BenchmarkTrainStep(b *testing.B) {
	a := Arch{Size: 24, Widths: [3]int{8, 16, 32}, Classes: 36}
	net, err := New(a, 1)
	if err != nil {
		b.Fatal(err)
	}
	const n = 64
	x := randomInput(n, a.Size, 1)
	cls := make([]int, n)
	for i := range cls {
		cls[i] = i % a.Classes
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := net.TrainSource(context.Background(), x, cls, TrainConfig{Epochs: 1, Batch: 32, LR: 1e-3, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "img/s")
}
