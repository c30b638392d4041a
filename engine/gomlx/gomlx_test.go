package gomlx_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/multilabel/multilabel/engine"
	"github.com/multilabel/multilabel/engine/enginetest"
	"github.com/multilabel/multilabel/engine/gomlx"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	enginetest.Run(t, func(model []byte) (engine.Engine, error) {
		return gomlx.Open(model, gomlx.Options{MaxBatch: 16})
	})
}

func TestCompileAndClose(t *testing.T) {
	t.Parallel()
	e, err := gomlx.Open(enginetest.TinyModel(), gomlx.Options{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Compile(4); err != nil {
		t.Fatal(err)
	}
	if err := e.Compile(5); err == nil {
		t.Error("Compile(5) with MaxBatch 4: want an error")
	}
	ref := enginetest.TinyReference()
	// 4 samples fit one chunk; the reference batch runs in chunks of at most 4.
	if _, err := e.Run(t.Context(), ref.Input, ref.N); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := e.Run(t.Context(), ref.Input, ref.N); err == nil {
		t.Error("Run after Close: want an error")
	}
}

func ExampleOpen() {
	e, err := gomlx.Open(enginetest.TinyModel(), gomlx.Options{})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	ref := enginetest.TinyReference()
	out, err := e.Run(context.Background(), ref.Input[:3*8*8], 1)
	if err != nil {
		panic(err)
	}
	fmt.Println(e.InputShape(), e.OutputShape(), len(out))
	// Output: [3 8 8] [5] 5
}

// TestManyBatchSizes: every chunk size up to MaxBatch gets its executable, beyond GoMLX's
// default cache of 32 graphs.
func TestManyBatchSizes(t *testing.T) {
	t.Parallel()
	e, err := gomlx.Open(enginetest.TinyModel(), gomlx.Options{MaxBatch: 34})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ref := enginetest.TinyReference()
	in := slices.Repeat(ref.Input[:3*8*8], 34)
	for n := 1; n <= 34; n++ {
		if _, err := e.Run(context.Background(), in[:n*3*8*8], n); err != nil {
			t.Fatalf("batch %d: %v", n, err)
		}
	}
}
