// Package enginetest is the conformance suite that every engine.Engine implementation
// passes: shapes, numerical agreement with PyTorch on a small known graph, batch-1 versus
// batch-n equality, bad input sizes reported as errors (never panics), concurrent Run
// calls, context cancellation, and clear errors for files that are not ONNX models.
//
// The fixture graph (testdata/tiny.onnx) and its reference outputs (testdata/tiny_ref.json)
// were made by testdata/make_tiny.py with PyTorch.
package enginetest

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/engine"
)

//go:embed testdata/tiny.onnx
var tinyONNX []byte

//go:embed testdata/tiny_ref.json
var tinyRefJSON []byte

// Reference holds a batch of inputs and the outputs PyTorch computed for them.
type Reference struct {
	InputShape  []int64   `json:"input_shape"`
	OutputShape []int64   `json:"output_shape"`
	N           int       `json:"n"`
	Input       []float32 `json:"input"`
	Output      []float32 `json:"output"`
}

// TinyModel returns the fixture graph: fp32, input "x" [N,3,8,8], output "y" [N,5].
func TinyModel() []byte { return slices.Clone(tinyONNX) }

// TinyReference returns the fixture's reference batch.
func TinyReference() Reference {
	var r Reference
	if err := json.Unmarshal(tinyRefJSON, &r); err != nil {
		panic("enginetest: embedded tiny_ref.json: " + err.Error())
	}
	return r
}

// WithInitializersAsInputs returns model with every initializer also listed in
// graph.input, as IR version 3 files (such as the SqueezeNet of ../shared) do.
func WithInitializersAsInputs(model []byte) ([]byte, error) {
	var mp protos.ModelProto
	if err := proto.Unmarshal(model, &mp); err != nil {
		return nil, err
	}
	for _, t := range mp.Graph.Initializer {
		dims := make([]*protos.TensorShapeProto_Dimension, len(t.Dims))
		for i, d := range t.Dims {
			dims[i] = &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: d}}
		}
		mp.Graph.Input = append(mp.Graph.Input, &protos.ValueInfoProto{
			Name: t.Name,
			Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{TensorType: &protos.TypeProto_Tensor{
				ElemType: t.DataType, Shape: &protos.TensorShapeProto{Dim: dims}}}},
		})
	}
	return proto.Marshal(&mp)
}

// MaxAbsDiff returns max |a[i]-b[i]| and max |b[i]| (the scale).
func MaxAbsDiff(a, b []float32) (diff, scale float64) {
	for i := range a {
		diff = math.Max(diff, math.Abs(float64(a[i])-float64(b[i])))
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	return diff, scale
}

// Opener opens an engine on a serialized ONNX model.
type Opener func(model []byte) (engine.Engine, error)

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, open Opener) {
	ref := TinyReference()
	mustOpen := func(t *testing.T, model []byte) engine.Engine {
		t.Helper()
		e, err := open(model)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() {
			if err := e.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return e
	}
	inLen, outLen := prod(ref.InputShape), prod(ref.OutputShape)
	check := func(t *testing.T, what string, got, want []float32) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
		}
		diff, scale := MaxAbsDiff(got, want)
		if diff > 1e-4*math.Max(1, scale) {
			t.Fatalf("%s: max abs diff %.3g (scale %.3g) exceeds tolerance", what, diff, scale)
		}
	}

	t.Run("Shapes", func(t *testing.T) {
		e := mustOpen(t, TinyModel())
		if e.Name() == "" {
			t.Error("empty Name()")
		}
		if got := e.InputShape(); !slices.Equal(got, ref.InputShape) {
			t.Errorf("InputShape = %v, want %v", got, ref.InputShape)
		}
		if got := e.OutputShape(); !slices.Equal(got, ref.OutputShape) {
			t.Errorf("OutputShape = %v, want %v", got, ref.OutputShape)
		}
	})

	t.Run("MatchesPyTorch", func(t *testing.T) {
		e := mustOpen(t, TinyModel())
		got, err := e.Run(context.Background(), slices.Clone(ref.Input), ref.N)
		if err != nil {
			t.Fatal(err)
		}
		check(t, "batch output vs PyTorch", got, ref.Output)
	})

	t.Run("Batch1EqualsBatchN", func(t *testing.T) {
		e := mustOpen(t, TinyModel())
		all, err := e.Run(context.Background(), ref.Input, ref.N)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ref.N {
			one, err := e.Run(context.Background(), ref.Input[i*inLen:(i+1)*inLen], 1)
			if err != nil {
				t.Fatal(err)
			}
			diff, scale := MaxAbsDiff(one, all[i*outLen:(i+1)*outLen])
			if diff > 1e-5*math.Max(1, scale) {
				t.Fatalf("sample %d: batch-1 and batch-%d outputs differ by %.3g", i, ref.N, diff)
			}
		}
		// A batch larger than any seen so far (repeats of the reference batch).
		big := slices.Repeat(ref.Input, 10)
		out, err := e.Run(context.Background(), big, 10*ref.N)
		if err != nil {
			t.Fatal(err)
		}
		check(t, "batch 40", out, slices.Repeat(ref.Output, 10))
	})

	t.Run("InputNotModified", func(t *testing.T) {
		e := mustOpen(t, TinyModel())
		in := slices.Clone(ref.Input)
		if _, err := e.Run(context.Background(), in, ref.N); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(in, ref.Input) {
			t.Fatal("Run modified its input")
		}
	})

	t.Run("BadInputSizes", func(t *testing.T) {
		e := mustOpen(t, TinyModel())
		cases := []struct {
			name string
			in   []float32
			n    int
		}{
			{"short", ref.Input[:inLen-1], 1},
			{"long", ref.Input[:inLen+1], 1},
			{"n too large", ref.Input[:inLen], 2},
			{"zero n", ref.Input[:inLen], 0},
			{"negative n", ref.Input[:inLen], -1},
			{"nil input", nil, 1},
		}
		for _, c := range cases {
			out, err := runNoPanic(e, context.Background(), c.in, c.n)
			if err == nil {
				t.Errorf("%s: no error, got %d values", c.name, len(out))
			}
		}
		// The engine still works after bad calls.
		if _, err := e.Run(context.Background(), ref.Input, ref.N); err != nil {
			t.Fatalf("after bad calls: %v", err)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		e := mustOpen(t, TinyModel())
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for g := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := 1 + g%ref.N
				for range 3 {
					out, err := e.Run(context.Background(), ref.Input[:n*inLen], n)
					if err != nil {
						errs[g] = err
						return
					}
					if d, s := MaxAbsDiff(out, ref.Output[:n*outLen]); d > 1e-4*math.Max(1, s) {
						errs[g] = fmt.Errorf("goroutine %d: max abs diff %.3g", g, d)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Cancelled", func(t *testing.T) {
		e := mustOpen(t, TinyModel())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := runNoPanic(e, ctx, ref.Input, ref.N); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run on a cancelled context: err = %v, want context.Canceled", err)
		}
	})

	t.Run("InitializersAsInputs", func(t *testing.T) {
		m, err := WithInitializersAsInputs(TinyModel())
		if err != nil {
			t.Fatal(err)
		}
		e := mustOpen(t, m)
		if got := e.InputShape(); !slices.Equal(got, ref.InputShape) {
			t.Errorf("InputShape = %v, want %v", got, ref.InputShape)
		}
		got, err := e.Run(context.Background(), ref.Input, ref.N)
		if err != nil {
			t.Fatal(err)
		}
		check(t, "IR-3 style model", got, ref.Output)
	})

	t.Run("NotONNX", func(t *testing.T) {
		model := TinyModel()
		for name, b := range map[string][]byte{
			"empty":     nil,
			"text":      []byte("this is not an ONNX model\n"),
			"truncated": model[:len(model)/2],
			"png":       []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
		} {
			e, err := openNoPanic(open, b)
			if err == nil {
				e.Close()
				t.Errorf("%s: open succeeded, want an error", name)
			}
		}
	})
}

func runNoPanic(e engine.Engine, ctx context.Context, in []float32, n int) (out []float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = nil
			panic(fmt.Sprintf("engine %s panicked on bad input (n=%d, len=%d): %v", e.Name(), n, len(in), r))
		}
	}()
	return e.Run(ctx, in, n)
}

func openNoPanic(open Opener, b []byte) (e engine.Engine, err error) {
	defer func() {
		if r := recover(); r != nil {
			panic(fmt.Sprintf("open panicked on a bad model (%d bytes): %v", len(b), r))
		}
	}()
	return open(b)
}

func prod(s []int64) int {
	p := 1
	for _, d := range s {
		p *= int(d)
	}
	return p
}
