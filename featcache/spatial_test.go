package featcache_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// TestExtractSpatialMIML: the 512×13×13 SqueezeNet maps of real photos, cached as
// float16 beside (not instead of) the pooled vectors; averaging a cached map over its
// 169 positions gives the pooled feature to float16 precision.
func TestExtractSpatialMIML(t *testing.T) {
	lib := sharedtest.ORTLib(t)
	models := sharedtest.Dir(t, "models/squeezenet1.1")
	data := sharedtest.Dir(t, "data/miml-scenes")
	b, err := backbone.Load(filepath.Join(models, "squeezenet1.1-fp16.onnx"), backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{filepath.Join(data, "images", "1.jpg"), filepath.Join(data, "images", "2.jpg"), filepath.Join(data, "images", "1001.jpg")}
	dir := t.TempDir()
	c, err := featcache.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	run := func(model []byte, spatial bool) *featcache.Features {
		eng, err := ort.Open(model, ort.Options{LibPath: lib})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		opt := featcache.ExtractOptions{Cache: c}
		var f *featcache.Features
		if spatial {
			f, err = featcache.ExtractSpatial(context.Background(), eng, b, paths, opt)
		} else {
			f, err = featcache.Extract(context.Background(), eng, b, paths, opt)
		}
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	pm, err := b.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	sm, err := b.SpatialModel()
	if err != nil {
		t.Fatal(err)
	}
	pooled := run(pm, false)
	maps := run(sm, true)
	if !slices.Equal(maps.Shape, []int{512, 13, 13}) || maps.Dim != 512*169 || maps.Misses != 3 {
		t.Fatalf("spatial: shape %v dim %d misses %d", maps.Shape, maps.Dim, maps.Misses)
	}
	again := run(sm, true)
	if again.Hits != 3 || !slices.Equal(again.Data, maps.Data) {
		t.Fatalf("second spatial run: hits %d, same data %v", again.Hits, slices.Equal(again.Data, maps.Data))
	}
	// The pooled entries are still there and still pooled.
	if p2 := run(pm, false); p2.Hits != 3 || !slices.Equal(p2.Data, pooled.Data) {
		t.Fatalf("pooled entries after the spatial run: hits %d", p2.Hits)
	}
	for i := range paths {
		for k := 0; k < 512; k++ {
			s := 0.0
			for _, v := range maps.Row(i)[k*169 : (k+1)*169] {
				s += float64(v)
			}
			want := float64(pooled.Row(i)[k])
			if d := math.Abs(s/169 - want); d > 1e-3*(1+math.Abs(want)) {
				t.Fatalf("image %d channel %d: mean of the cached map %g, pooled %g", i, k, s/169, want)
			}
		}
	}
	// On disk: one float16 entry per image, 2 bytes a value.
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".f16") {
			if st, _ := d.Info(); st.Size() != 16+2*512*169 {
				t.Errorf("%s: %d bytes", p, st.Size())
			}
			n++
		}
		return nil
	})
	if n != 3 {
		t.Fatalf("%d float16 entries, want 3", n)
	}
	// A cut without spatial dimensions names the cut and the way out.
	flat, err := backbone.Load(filepath.Join("..", "backbone", "testdata", "tiny_gemm.onnx"), backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = flat.SpatialModel()
	if !errors.Is(err, backbone.ErrNoFeature) || !strings.Contains(err.Error(), flat.FeatureNode) || !strings.Contains(err.Error(), "backbone inspect") {
		t.Fatalf("spatial model of a flat cut: %v", err)
	}
}
