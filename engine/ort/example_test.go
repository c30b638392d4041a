package ort_test

import (
	"context"
	"fmt"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine/ort"
)

// Extract pooled features of a batch with ONNX Runtime (compiled, not run: it needs the
// native library).
func ExampleOpen() {
	b, err := backbone.Load("model.onnx", backbone.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	model, err := b.FeatureModel()
	if err != nil {
		fmt.Println(err)
		return
	}
	lib, err := ort.FindLibrary("") // $ONNXRUNTIME_LIB or the project's install place
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err := ort.Open(model, ort.Options{LibPath: lib})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	batch := make([]float32, 8*b.Spec.TensorLen()) // 8 images filled with b.Spec
	features, err := e.Run(context.Background(), batch, 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(features) == 8*b.FeatureDim)
}
