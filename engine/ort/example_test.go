package ort_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// TestOpenUsage is the package's usage example, run: extract pooled features of a batch
// with ONNX Runtime. It was an Example without output (it needs the native library and
// a model file, so it could only compile); as a test it runs where both are present and
// skips with a message elsewhere.
func TestOpenUsage(t *testing.T) {
	t.Parallel()
	path := filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	sharedtest.ORTLib(t)

	b, err := backbone.Load(path, backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	model, err := b.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	lib, err := ort.FindLibrary("") // $ONNXRUNTIME_LIB or the project's install place
	if err != nil {
		t.Fatal(err)
	}
	e, err := ort.Open(model, ort.Options{LibPath: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	batch := make([]float32, 8*b.Spec.TensorLen()) // 8 images filled with b.Spec
	features, err := e.Run(context.Background(), batch, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(features) != 8*b.FeatureDim {
		t.Fatalf("%d feature values for 8 images of dim %d", len(features), b.FeatureDim)
	}
}
