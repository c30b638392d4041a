package dataset

import (
	"path/filepath"
	"testing"
)

// resolvePaths writes dir/image directly where that is already clean; every path must
// be what resolve (filepath.Join) gives.
func TestResolvePathsAsJoin(t *testing.T) {
	dirs := []string{"", ".", "/", "imgs", "imgs/", "/data/imgs", "a/../b", "./x", "/data//imgs", ".."}
	images := []string{"a.jpg", "sub/a.jpg", "./a.jpg", "../a.jpg", "..a.jpg", "a/../../b.jpg", "/abs/a.jpg",
		"a//b.jpg", ".", "..", "x/./y.jpg", "x/", "...", "..."}
	for _, dir := range dirs {
		d := &Dataset{}
		for _, img := range images {
			d.Samples = append(d.Samples, Sample{Image: img})
		}
		resolvePaths(d, dir)
		for _, s := range d.Samples {
			if want := resolve(dir, s.Image); s.Path != want {
				t.Errorf("dir %q image %q: path %q, want %q", dir, s.Image, s.Path, want)
			}
		}
	}
	if got := resolve("imgs", "a.jpg"); got != filepath.Join("imgs", "a.jpg") {
		t.Fatalf("resolve = %q", got)
	}
}

// Subset's rows share one array; appending to one must not change the next.
func TestSubsetRowsCapped(t *testing.T) {
	d := &Dataset{Labels: []string{"a", "b"}, Samples: []Sample{
		{Image: "1.jpg", Truth: []int8{1, 0}}, {Image: "2.jpg", Truth: []int8{0, 1}}, {Image: "3.jpg", Truth: []int8{-1, 1}}}}
	sub := d.Subset([]int{2, 0})
	_ = append(sub.Samples[0].Truth, 1)
	if got := sub.Samples[1].Truth; got[0] != 1 || got[1] != 0 {
		t.Fatalf("second row %v after an append to the first, want [1 0]", got)
	}
	if got := sub.Samples[0].Truth; got[0] != -1 || got[1] != 1 || sub.Samples[0].Image != "3.jpg" {
		t.Fatalf("first row %v %q", got, sub.Samples[0].Image)
	}
}
