package model_test

import (
	"strings"
	"testing"

	"github.com/multilabel/multilabel/internal/depstest"
)

// TestPredictOnlyDeps checks that a program that only loads a bundle and predicts links
// neither go-xla nor any training code: GoMLX may appear only as the pure-Go inference
// engine behind engine/auto.
func TestPredictOnlyDeps(t *testing.T) {
	t.Parallel()
	const mod = "github.com/multilabel/multilabel/"
	for _, d := range depstest.Deps(t) {
		if strings.HasPrefix(d, "github.com/gomlx/go-xla") {
			t.Errorf("model links %s", d)
		}
		for _, p := range []string{"train", "finetune", "head", "loss", "pipeline"} {
			if d == mod+p || strings.HasPrefix(d, mod+p+"/") {
				t.Errorf("model links the training package %s", d)
			}
		}
	}
}

// TestPredictWithoutCgo: the predict-only path builds without cgo (CGO_ENABLED=0), on the
// pure-Go engine: ONNX Runtime's cgo binding drops out.
func TestPredictWithoutCgo(t *testing.T) {
	t.Parallel()
	for _, d := range depstest.Deps(t, "CGO_ENABLED=0") {
		if strings.HasPrefix(d, "github.com/yalue/onnxruntime_go") || strings.HasSuffix(d, "/engine/ort") {
			t.Errorf("a CGO_ENABLED=0 build of model links %s", d)
		}
	}
}
