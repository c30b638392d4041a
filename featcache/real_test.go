package featcache_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// TestExtractSqueezeNetMIML: real photos through the real backbone on ONNX Runtime; the
// second run extracts nothing and gives the same features.
func TestExtractSqueezeNetMIML(t *testing.T) {
	lib := sharedtest.ORTLib(t)
	models := sharedtest.Dir(t, "models/squeezenet1.1")
	data := sharedtest.Dir(t, "data/miml-scenes")
	b, err := backbone.Load(filepath.Join(models, "squeezenet1.1-fp16.onnx"), backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	model, err := b.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := ort.Open(model, ort.Options{LibPath: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	paths, err := filepath.Glob(filepath.Join(data, "images", "*.jpg"))
	if err != nil || len(paths) < 40 {
		t.Fatalf("MIML images: %d found, %v", len(paths), err)
	}
	paths = paths[:40]
	c, err := featcache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	first, err := featcache.Extract(context.Background(), eng, b, paths, featcache.ExtractOptions{Cache: c, BatchSize: 16, Progress: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	if first.Dim != b.FeatureDim || first.Misses+first.Hits != 40 || len(first.Bad) != 0 {
		t.Fatalf("first run: dim %d (want %d), misses %d hits %d, bad %v", first.Dim, b.FeatureDim, first.Misses, first.Hits, first.Bad)
	}
	second, err := featcache.Extract(context.Background(), eng, b, paths, featcache.ExtractOptions{Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	if second.Misses != 0 || second.Hits != 40 || !slices.Equal(first.Data, second.Data) {
		t.Fatalf("second run: misses %d hits %d, same data %v", second.Misses, second.Hits, slices.Equal(first.Data, second.Data))
	}
}
