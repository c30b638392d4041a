package featcache

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestMapped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rows, dim := 37, 5
	data := make([]float32, rows*dim)
	for i := range data {
		data[i] = float32(i%97) / 8 // exact in float16 too
	}
	f32 := filepath.Join(dir, "f32.npy")
	if err := WriteNPY(f32, data, rows, dim); err != nil {
		t.Fatal(err)
	}
	var hb bytes.Buffer
	if err := EncodeNPYHalf(&hb, data, rows, dim); err != nil {
		t.Fatal(err)
	}
	f16 := filepath.Join(dir, "f16.npy")
	os.WriteFile(f16, hb.Bytes(), 0o644)
	for _, p := range []string{f32, f16} {
		m, err := OpenMapped(p)
		if err != nil {
			t.Fatal(err)
		}
		if m.Rows != rows || m.Dim != dim || m.Half != (p == f16) {
			t.Fatalf("%s: %+v", p, m)
		}
		var row []float32
		for i := range rows {
			row = m.Row(i, row)
			if !slices.Equal(row, data[i*dim:(i+1)*dim]) {
				t.Fatalf("%s row %d: %v", p, i, row)
			}
		}
		m.Release(0, rows)
		if row = m.Row(3, row); row[0] != data[15] {
			t.Fatal("row after Release differs")
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "short.npy"), hb.Bytes()[:len(hb.Bytes())-2], 0o644)
	if _, err := OpenMapped(filepath.Join(dir, "short.npy")); err == nil {
		t.Fatal("a truncated file maps")
	}
}

func TestBlockOrder(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	order := BlockOrder(103, 10, rng)
	seen := make([]bool, 103)
	changes := 0
	for k, r := range order {
		if seen[r] {
			t.Fatalf("row %d twice", r)
		}
		seen[r] = true
		if k > 0 && r/10 != order[k-1]/10 {
			changes++
		}
	}
	if changes != 10 { // 11 blocks, each contiguous in the order
		t.Fatalf("%d block changes, want 10: %v", changes, order)
	}
	if slices.IsSorted(order) {
		t.Fatal("not shuffled")
	}
}

func FuzzParseMapped(f *testing.F) {
	var b bytes.Buffer
	EncodeNPYHalf(&b, []float32{1, 2, 3, 4}, 2, 2)
	f.Add(b.Bytes())
	b.Reset()
	EncodeNPY(&b, []float32{1, 2}, 1, 2)
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseMapped(data)
		if err != nil {
			return
		}
		var row []float32
		for i := range m.Rows {
			row = m.Row(i, row)
		}
	})
}
