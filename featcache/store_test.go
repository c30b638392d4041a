package featcache

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/imageio"
)

var testKey = ModelKey{BackboneSHA256: "abc", FeatureNode: "fire9/concat", Spec: imageio.ImageNetSpec()}

func TestStoreRoundTrip(t *testing.T) {
	t.Parallel()
	c, err := Open(filepath.Join(t.TempDir(), "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	h := HashBytes([]byte("image bytes"))
	if _, ok := c.Get(testKey, h); ok {
		t.Fatal("empty cache: hit")
	}
	want := []float32{1, -2.5, 3e-7, 0}
	if err := c.Put(testKey, h, want); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Get(testKey, h)
	if !ok || !slices.Equal(got, want) {
		t.Fatalf("Get = %v, %v", got, ok)
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), testKey.ID(), "key.json")); err != nil {
		t.Fatalf("key.json: %v", err)
	}
	// A damaged entry reads as missing; Put repairs it.
	p := c.entryPath(testKey, h)
	data, _ := os.ReadFile(p)
	data[14] ^= 1
	os.WriteFile(p, data, 0o644)
	if _, ok := c.Get(testKey, h); ok {
		t.Fatal("damaged entry: hit")
	}
	os.WriteFile(p, data[:9], 0o644)
	if _, ok := c.Get(testKey, h); ok {
		t.Fatal("truncated entry: hit")
	}
	if err := c.Put(testKey, h, want); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(testKey, h); !ok {
		t.Fatal("repaired entry: miss")
	}
	if err := c.Put(testKey, "../../etc/passwd", want); err == nil {
		t.Fatal("Put with a bad hash: want an error")
	}
	if _, ok := c.Get(testKey, "zz"); ok {
		t.Fatal("Get with a bad hash: hit")
	}
}

func TestKeyID(t *testing.T) {
	t.Parallel()
	ids := map[string]bool{testKey.ID(): true}
	k := testKey
	k.FeatureNode = "other"
	ids[k.ID()] = true
	k = testKey
	k.BackboneSHA256 = "abd"
	ids[k.ID()] = true
	k = testKey
	k.Spec.Mean[0] += 0.001
	ids[k.ID()] = true
	if len(ids) != 4 {
		t.Fatal("different keys share an ID")
	}
	if testKey.ID() != testKey.ID() || len(testKey.ID()) != 64 {
		t.Fatal("ID not stable")
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	d, err := DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(d, filepath.Join("multilabel", "features")) {
		t.Fatalf("DefaultDir = %s", d)
	}
}

// TestNPYMatchesNumPy: WriteNPY produces the bytes numpy.save does, and ReadNPY reads
// numpy's files (testdata/make_npy.py).
func TestNPYMatchesNumPy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file       string
		data       []float32
		rows, cols int
	}{
		{"ref_2x3.npy", []float32{1.5, -2, 0, 3.25, 0.001, -7}, 2, 3},
		{"ref_0x512.npy", nil, 0, 512},
		{"ref_1x70.npy", func() []float32 {
			v := make([]float32, 70)
			for i := range v {
				v[i] = float32(i) / 8
			}
			return v
		}(), 1, 70},
	}
	for _, c := range cases {
		want, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := EncodeNPY(&buf, c.data, c.rows, c.cols); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s: encoding differs from numpy.save:\n got %q\nwant %q", c.file, buf.Bytes()[:min(80, buf.Len())], want[:min(80, len(want))])
		}
		data, shape, err := ReadNPY(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(shape, []int{c.rows, c.cols}) || !slices.Equal(data, c.data) && len(c.data) > 0 {
			t.Errorf("%s: read shape %v data %v", c.file, shape, data)
		}
	}
	p := filepath.Join(t.TempDir(), "out", "f.npy")
	if err := WriteNPY(p, []float32{1, 2, 3, 4}, 2, 2); err != nil {
		t.Fatal(err)
	}
	if _, shape, err := ReadNPY(p); err != nil || !slices.Equal(shape, []int{2, 2}) {
		t.Fatalf("WriteNPY then ReadNPY: %v %v", shape, err)
	}
	if err := WriteNPY(p, []float32{1, 2, 3}, 2, 2); err == nil {
		t.Fatal("WriteNPY with the wrong count: want an error")
	}
}

func TestDecodeNPYErrors(t *testing.T) {
	t.Parallel()
	good, _ := os.ReadFile(filepath.Join("testdata", "ref_2x3.npy"))
	bad := map[string][]byte{
		"empty":     nil,
		"no magic":  []byte("hello world, not npy"),
		"truncated": good[:len(good)-3],
		"f8":        bytes.Replace(good, []byte("<f4"), []byte("<f8"), 1),
		"fortran":   bytes.Replace(good, []byte("False"), []byte("True "), 1),
		"rank 3":    bytes.Replace(good, []byte("(2, 3)"), []byte("(1,2,3)"), 1),
		"version 9": append(append([]byte{}, good[:6]...), append([]byte{9, 0}, good[8:]...)...),
	}
	for name, b := range bad {
		if _, _, err := DecodeNPY(b); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func FuzzDecodeNPY(f *testing.F) {
	for _, name := range []string{"ref_2x3.npy", "ref_0x512.npy", "ref_1x70.npy"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x93NUMPY\x01\x00\x10\x00{'shape': (9999999999, 99999999999)}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		data, shape, err := DecodeNPY(b)
		if err != nil {
			return
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		if n != len(data) {
			t.Fatalf("shape %v but %d values", shape, len(data))
		}
	})
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry([]float32{1, 2, 3}))
	f.Add(encodeEntry(nil))
	f.Add([]byte("MLFEAT01\xff\xff\xff\xff"))
	f.Add(encodeEntryHalf([]float32{1, -2, 0.5}))
	f.Fuzz(func(t *testing.T, b []byte) {
		feat, isHalf, err := decodeEntry(b)
		if err == nil && !isHalf && !bytes.Equal(encodeEntry(feat), b) {
			t.Fatal("decoded entry does not re-encode to the same bytes")
		}
		if err == nil && isHalf && len(encodeEntryHalf(feat)) != len(b) {
			t.Fatal("decoded half entry does not re-encode to the same size")
		}
	})
}

// Pooling other than the average gets its own key; the average keeps the key it had
// before pooling was a choice, so existing caches stay valid.
func TestModelKeyPool(t *testing.T) {
	k := ModelKey{BackboneSHA256: strings.Repeat("ab", 32), FeatureNode: "fire9/concat_1", Spec: imageio.ImageNetSpec()}
	before := k.ID()
	raw, err := json.Marshal(k)
	if err != nil || strings.Contains(string(raw), "pool") {
		t.Fatalf("average-pooled key JSON %s (%v)", raw, err)
	}
	k.Pool = "max"
	mx := k.ID()
	k.Pool = "avgmax"
	if mx == before || k.ID() == before || k.ID() == mx {
		t.Fatal("pooling does not change the cache key")
	}
}
