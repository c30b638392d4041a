package featcache

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestReadRowAt: a row read with a positioned read equals the row read through the map,
// for float32 and float16 files; a row out of range is an error.
func TestReadRowAt(t *testing.T) {
	t.Parallel()
	const rows, dim = 7, 5
	data := make([]float32, rows*dim)
	for i := range data {
		data[i] = float32(i)*0.25 - 3
	}
	dir := t.TempDir()
	f32 := filepath.Join(dir, "a.npy")
	if err := WriteNPY(f32, data, rows, dim); err != nil {
		t.Fatal(err)
	}
	var hb bytes.Buffer
	if err := EncodeNPYHalf(&hb, data, rows, dim); err != nil {
		t.Fatal(err)
	}
	f16 := filepath.Join(dir, "h.npy")
	if err := os.WriteFile(f16, hb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{f32, f16} {
		m, err := OpenMapped(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			got, err := m.ReadRowAt(f, i, nil)
			if err != nil || !slices.Equal(got, m.Row(i, nil)) {
				t.Errorf("%s row %d: %v %v, mapped %v", p, i, got, err, m.Row(i, nil))
			}
		}
		if _, err := m.ReadRowAt(f, rows, nil); err == nil {
			t.Errorf("%s: row %d of %d read", p, rows, rows)
		}
		f.Close()
		m.Close()
	}
}
