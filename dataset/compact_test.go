package dataset

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
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

// Repeated images in unsorted files: list rows merge into the first one's entry (its
// place and line), one-hot repeats are refused at the first repeat in the file, and the
// first bad record in file order decides the error.
func TestCSVRepeatsUnsorted(t *testing.T) {
	d, err := parseCSV(strings.NewReader("image,labels\nb.jpg,cat\na.jpg,dog\nc.jpg,\nb.jpg,-dog\na.jpg,cat\n"), "l.csv", "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range d.Samples {
		got = append(got, fmt.Sprint(s.Image, s.Truth))
	}
	if want := []string{"b.jpg[1 0]", "a.jpg[1 1]", "c.jpg[0 0]"}; !slices.Equal(got, want) || !slices.Equal(d.Labels, []string{"cat", "dog"}) {
		t.Fatalf("samples %q labels %q, want %q over [cat dog]", got, d.Labels, want)
	}
	// The merged entry's error names its first line.
	_, err = parseCSV(strings.NewReader("image,labels\nb.jpg,cat\na.jpg,dog\nb.jpg,-cat\n"), "l.csv", "", Options{})
	if err == nil || !strings.HasPrefix(err.Error(), `l.csv:2: image "b.jpg": label "cat" given as positive and negative`) {
		t.Fatalf("err = %v", err)
	}
	for _, tc := range []struct{ src, want string }{
		{"image,cat,dog\nb.jpg,1,0\na.jpg,1,0\nc.jpg,0,0\na.jpg,1,1\nb.jpg,0,0\n", `l.csv:5: image "a.jpg" already listed on line 3`},
		// A bad value after a repeat: the repeat is reported.
		{"image,cat,dog\nb.jpg,1,0\nb.jpg,1,0\na.jpg,x,0\n", `l.csv:3: image "b.jpg" already listed on line 2`},
		// A repeat with a bad value on its own line: the repeat comes first.
		{"image,cat,dog\nb.jpg,1,0\nb.jpg,x,0\n", `l.csv:3: image "b.jpg" already listed on line 2`},
		// A short record before a repeat: the short record.
		{"image,cat,dog\nb.jpg,1,0\na.jpg,1\nb.jpg,1,0\n", `l.csv:3: 2 fields, header has 3`},
		// A short record that repeats: its width first.
		{"image,cat,dog\nb.jpg,1,0\nb.jpg,1\n", `l.csv:3: 2 fields, header has 3`},
		{"image,cat,dog\nb.jpg,1,0\na.jpg,2,0\nb.jpg,1,0\n", `l.csv:3: label "cat": value "2" is not`},
	} {
		_, err := parseCSV(strings.NewReader(tc.src), "l.csv", "", Options{})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %s…", tc.src, err, tc.want)
		}
	}
}

// Load sizes its buffers from the file's size after sizeAfter records; the samples
// must be those of the unsized reader.
func TestLoadSizedAsUnsized(t *testing.T) {
	var b strings.Builder
	b.WriteString("image,labels\n")
	for i := range 3*sizeAfter + 17 {
		fmt.Fprintf(&b, "d%d/img%06d.jpg,l%d|l%d\n", i%7, (i*7919)%100003, i%5, (i*3)%11)
	}
	p := writeFile(t, filepath.Join(t.TempDir(), "l.csv"), b.String())
	got, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := parseCSV(strings.NewReader(b.String()), p, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Samples) != len(want.Samples) || !slices.Equal(got.Labels, want.Labels) {
		t.Fatalf("%d samples over %q, want %d over %q", len(got.Samples), got.Labels, len(want.Samples), want.Labels)
	}
	for i, s := range got.Samples {
		w := want.Samples[i]
		if s.Image != w.Image || !slices.Equal(s.Truth, w.Truth) || s.Path != filepath.Join(filepath.Dir(p), w.Image) {
			t.Fatalf("sample %d: %q %v %q, want %q %v", i, s.Image, s.Truth, s.Path, w.Image, w.Truth)
		}
	}
}
