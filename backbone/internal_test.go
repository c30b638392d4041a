package backbone

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/internal/sharedtest"
)

// The shared SqueezeNet's zoo entry records its feature node; the automatic search must
// find the same one.
func TestAutoFeatureSqueezeNet(t *testing.T) {
	t.Parallel()
	p := filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parse(data, Options{}, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.findFeature(""); err != nil {
		t.Fatal(err)
	}
	if b.FeatureNode != "fire9/concat_1" || b.FeatureDim != 512 || !b.Pooled {
		t.Fatalf("auto cut %q dim %d pooled %v (%s)", b.FeatureNode, b.FeatureDim, b.Pooled, b.Reason)
	}
	if s := b.shapes["fire9/concat_1"]; len(s) != 4 || s[2] != 13 || s[3] != 13 {
		t.Fatalf("fire9/concat_1 shape %v, want [1 512 13 13]", s)
	}
	if s := b.shapes["softmaxout_1"]; len(s) != 4 || s[1] != 1000 {
		t.Fatalf("output shape %v", s)
	}
}

func TestShapeHelpers(t *testing.T) {
	t.Parallel()
	if got := reshape([]int64{1, 16, 1, 1}, []int64{0, -1}); len(got) != 2 || got[1] != 16 {
		t.Fatalf("reshape: %v", got)
	}
	if got := reshape([]int64{2, 3}, []int64{-1, -1}); got != nil {
		t.Fatalf("two -1: %v", got)
	}
	if got := squeeze([]int64{1, 8, 1, 1}, []int64{2, 3}); len(got) != 2 {
		t.Fatalf("squeeze: %v", got)
	}
	if got := unsqueeze([]int64{1, 8}, []int64{-1}); len(got) != 3 || got[2] != 1 {
		t.Fatalf("unsqueeze: %v", got)
	}
	if got := broadcast([]int64{1, 8, 4, 4}, []int64{8, 1, 1}); len(got) != 4 || got[1] != 8 {
		t.Fatalf("broadcast: %v", got)
	}
}

func TestOpsetRangeAndReload(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/tiny_gemm.onnx")
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadBytes(data, "tiny", Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A feature model has no classifier: loading it again keeps its output as the cut.
	fm, err := b.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	b2, err := LoadBytes(fm, "tiny-features", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b2.FeatureNode != FeatureOutput || b2.FeatureDim != 16 || b2.Pooled {
		t.Fatalf("reloaded feature model: cut %q dim %d (%s)", b2.FeatureNode, b2.FeatureDim, b2.Reason)
	}
	// Opset 6 is refused with a clear message.
	b.model.OpsetImport[0].Version = 6
	old, err := proto.Marshal(b.model)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBytes(old, "old.onnx", Options{}); err == nil || !strings.Contains(err.Error(), "opset 6") || !strings.Contains(err.Error(), "old.onnx") {
		t.Fatalf("opset 6: %v", err)
	}
}
