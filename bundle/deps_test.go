package bundle_test

import (
	"strings"
	"testing"

	"github.com/multilabel/multilabel/internal/depstest"
)

// TestNoGoMLX checks that the bundle format links no GoMLX (only the ONNX protobuf
// definitions of compute-onnx) and no engine or training code.
func TestNoGoMLX(t *testing.T) {
	t.Parallel()
	const mod = "github.com/multilabel/multilabel/"
	for _, d := range depstest.Deps(t) {
		if strings.HasPrefix(d, "github.com/gomlx/") && d != "github.com/gomlx/compute-onnx/support/protos" {
			t.Errorf("bundle links %s", d)
		}
		for _, p := range []string{"engine", "train", "finetune", "head", "loss", "pipeline", "model"} {
			if d == mod+p || strings.HasPrefix(d, mod+p+"/") {
				t.Errorf("bundle links %s", d)
			}
		}
	}
}
