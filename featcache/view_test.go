package featcache_test

import (
	"context"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/imageio"
)

// cornerEngine outputs, per image, the first channel's top-left and top-right values: a
// left-right mirror swaps them.
type cornerEngine struct{ meanEngine }

func (e *cornerEngine) OutputShape() []int64 { return []int64{2} }
func (e *cornerEngine) Run(ctx context.Context, in []float32, n int) ([]float32, error) {
	e.images.Add(int32(n))
	tl := smallSpec.TensorLen()
	out := make([]float32, 2*n)
	for i := range n {
		out[2*i], out[2*i+1] = in[i*tl], in[i*tl+smallSpec.Width-1]
	}
	return out, nil
}

func TestExtractViewFlipCachedUnderItsOwnKey(t *testing.T) {
	paths := makeImages(t, 5)[:5]
	cache, err := featcache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eng := &cornerEngine{}
	orig, err := featcache.Extract(ctx, eng, fakeBackbone(), paths, featcache.ExtractOptions{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	flip, err := featcache.Extract(ctx, eng, fakeBackbone(), paths, featcache.ExtractOptions{Cache: cache, View: imageio.ViewFlip})
	if err != nil {
		t.Fatal(err)
	}
	if flip.Hits != 0 || flip.Misses != 5 {
		t.Fatalf("flip view: %d hits, %d misses; want its own entries (0, 5)", flip.Hits, flip.Misses)
	}
	differ := 0
	for i := range paths {
		o, f := orig.Row(i), flip.Row(i)
		if o[0] != f[1] || o[1] != f[0] {
			t.Fatalf("image %d: original corners %v, flipped %v: want them swapped", i, o, f)
		}
		if o[0] != o[1] {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("test images with equal corners cannot tell a flip")
	}
	again, err := featcache.Extract(ctx, eng, fakeBackbone(), paths, featcache.ExtractOptions{Cache: cache, View: imageio.ViewFlip})
	if err != nil {
		t.Fatal(err)
	}
	if again.Hits != 5 || again.Misses != 0 {
		t.Fatalf("second flip extraction: %d hits, %d misses; want all from the cache", again.Hits, again.Misses)
	}
	for i := range paths {
		if again.Row(i)[0] != flip.Row(i)[0] {
			t.Fatalf("image %d: cached flip row differs", i)
		}
	}
	k := featcache.KeyOf(fakeBackbone())
	kf := k
	kf.View = string(imageio.ViewFlip)
	if k.ID() == kf.ID() {
		t.Fatal("the flip view's key has the original's ID")
	}
	m := featcache.Manifest{ModelKey: kf}
	if d := m.Mismatch(k); len(d) != 1 || d[0] != "view flip vs original" {
		t.Fatalf("Mismatch of a flip-view output against the original key: %q", d)
	}
	if _, err := featcache.Extract(ctx, eng, fakeBackbone(), paths, featcache.ExtractOptions{View: "rotate"}); err == nil || !strings.Contains(err.Error(), `"rotate"`) {
		t.Fatalf("unknown view: err %v, want one naming it", err)
	}
}
