package finetune

import (
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// loadFeatures loads an ONNX classifier's feature graph as a bundle holds it: the
// feature model loaded back as a backbone, and its bytes.
func loadFeatures(t testing.TB, path string) (*backbone.Backbone, []byte) {
	t.Helper()
	b, err := backbone.Load(path, backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fm, err := b.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	spec := b.Spec
	fb, err := backbone.LoadBytes(fm, "features", backbone.Options{FeatureNode: backbone.FeatureOutput, Spec: &spec})
	if err != nil {
		t.Fatal(err)
	}
	return fb, fm
}

// demoFeatures loads the repository's small residual CNN (24×24 input, strided and
// padded convolutions, residual adds) as a feature model.
func demoFeatures(t testing.TB) (*backbone.Backbone, []byte) {
	return loadFeatures(t, "../internal/demo/backbone.onnx")
}

// SqueezeFeaturesForTest loads the shared SqueezeNet 1.1's feature graph as a bundle
// holds it (skipping when the shared models are absent). Exported for the external
// tests (package finetune_test); it exists only in test builds.
func SqueezeFeaturesForTest(t testing.TB) (*backbone.Backbone, []byte) {
	t.Helper()
	dir := sharedtest.Dir(t, "models/squeezenet1.1")
	return loadFeatures(t, filepath.Join(dir, "squeezenet1.1-fp16.onnx"))
}
