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
