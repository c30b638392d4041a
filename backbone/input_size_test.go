package backbone_test

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// TestInputSizeRewritesTheInput: SqueezeNet's file fixes its input at 224×224; an input
// size of 384×256 rewrites it (the spec squishes whole images), the cut's map grows to
// 15×23 and keeps 512 channels, and the feature graph declares the new size. A size
// the cut cannot reach, and a spec of another size without an explicit choice, are
// refused.
func TestInputSizeRewritesTheInput(t *testing.T) {
	p := filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	b, err := backbone.Load(p, backbone.Options{InputWidth: 384, InputHeight: 256})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Resized || !slices.Equal(b.InputShape, []int64{3, 256, 384}) || b.FeatureDim != 512 {
		t.Fatalf("resized %v input %v dim %d", b.Resized, b.InputShape, b.FeatureDim)
	}
	if b.Spec.Width != 384 || b.Spec.Height != 256 || b.Spec.Resize != "squish" || b.Spec.ResizeShorter != 0 {
		t.Errorf("spec %+v", b.Spec)
	}
	if c, h, w, err := b.SpatialShape(); err != nil || c != 512 || h != 15 || w != 23 {
		t.Errorf("spatial map %d×%d×%d (%v), want 512×15×23", c, h, w, err)
	}
	r := b.Report()
	if len(r.Inputs) != 1 || !slices.Equal(r.Inputs[0].Shape, []int64{-1, 3, 256, 384}) {
		t.Errorf("inspect inputs %+v", r.Inputs)
	}
	plain, err := backbone.Load(p, backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Resized || !slices.Equal(plain.InputShape, []int64{3, 224, 224}) {
		t.Errorf("without an input size: resized %v input %v", plain.Resized, plain.InputShape)
	}

	_, err = backbone.Load(p, backbone.Options{InputWidth: 16, InputHeight: 16})
	if !errors.Is(err, backbone.ErrNoFeature) || !strings.Contains(err.Error(), "input size 16x16") {
		t.Errorf("16x16: %v", err)
	}
	if _, err := backbone.Load(p, backbone.Options{InputWidth: 384}); err == nil || !strings.Contains(err.Error(), "input size 384x0") {
		t.Errorf("width without height: %v", err)
	}
}
