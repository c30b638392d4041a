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
