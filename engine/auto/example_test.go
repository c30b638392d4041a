package auto_test

import (
	"context"
	"fmt"

	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/engine/enginetest"
)

func ExampleOpen() {
	// Kind "auto" would pick ONNX Runtime when its library is installed; "go" always runs
	// in pure Go.
	e, err := auto.Open(enginetest.TinyModel(), auto.Options{Kind: auto.KindGo})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	ref := enginetest.TinyReference()
	out, err := e.Run(context.Background(), ref.Input, ref.N)
	if err != nil {
		panic(err)
	}
	fmt.Println(e.InputShape(), "->", e.OutputShape(), len(out), "values")
	// Output: [3 8 8] -> [5] 20 values
}
