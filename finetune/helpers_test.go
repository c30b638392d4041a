package finetune

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// squeezeFeatures loads the shared SqueezeNet 1.1 and returns its feature model loaded
// back as a backbone (as a bundle holds it) and the bytes.
func squeezeFeatures(t testing.TB) (*backbone.Backbone, []byte) {
	t.Helper()
	dir := sharedtest.Dir(t, "models/squeezenet1.1")
	b, err := backbone.Load(filepath.Join(dir, "squeezenet1.1-fp16.onnx"), backbone.Options{})
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

var _ = os.Getenv
