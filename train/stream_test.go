package train

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/featcache"
)

// mappedSet writes x (float16) to a .npy file, maps it, and returns the map and the
// values it holds (x rounded to float16).
func mappedSet(t *testing.T, x []float32, n, dim int) (*featcache.Mapped, []float32) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.npy")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := featcache.EncodeNPYHalf(f, x, n, dim); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	m, err := featcache.OpenMapped(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	vals := make([]float32, 0, n*dim)
	var row []float32
	for i := range n {
		row = m.Row(i, row)
		vals = append(vals, row...)
	}
	return m, vals
}

// TestFitRowsEqualsFit: training from a memory-mapped float16 .npy in Fit's order gives
// Fit's history and head on the same values exactly; with block shuffling it still
// learns; bad input is an error.
func TestFitRowsEqualsFit(t *testing.T) {
	t.Parallel()
	const dim = 12
	x, y := synthetic(150, dim, []float64{0.3, 0.5, 0.1}, 0.2, 0.05, 3)
	m, vals := mappedSet(t, x[:100*dim], 100, dim)
	trY, vaX, vaY := y[:100], x[100*dim:], y[100:]
	cfg := smallCfg()
	ctx := context.Background()
	a, err := Fit(ctx, cfg, vals, trY, vaX, vaY, dim, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := FitRows(ctx, cfg, m, 100, dim, trY, vaX, vaY, StreamOptions{}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stripTimes(a.History), stripTimes(b.History)) || !reflect.DeepEqual(a.Head, b.Head) {
		t.Fatalf("FitRows differs from Fit:\n%+v\n%+v", stripTimes(a.History), stripTimes(b.History))
	}
	cfg.Epochs = 12
	c, err := FitRows(ctx, cfg, m, 100, dim, trY, vaX, vaY, StreamOptions{Block: 16}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Fit(ctx, cfg, vals, trY, vaX, vaY, dim, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("val mAP: Fit %.3f, FitRows with blocks of 16 %.3f", d.BestValMAP, c.BestValMAP)
	if c.BestValMAP < d.BestValMAP-0.1 || reflect.DeepEqual(stripTimes(c.History), stripTimes(d.History)) {
		t.Errorf("block-shuffled run: val mAP %.3f, Fit's %.3f (or the same history as Fit's order)", c.BestValMAP, d.BestValMAP)
	}
	for name, run := range map[string]func() error{
		"rows": func() error {
			_, err := FitRows(ctx, cfg, m, 99, dim, trY, vaX, vaY, StreamOptions{}, Callbacks{})
			return err
		},
		"dim": func() error {
			_, err := FitRows(ctx, cfg, m, 100, dim+1, trY, nil, nil, StreamOptions{}, Callbacks{})
			return err
		},
		"block": func() error {
			_, err := FitRows(ctx, cfg, m, 100, dim, trY, vaX, vaY, StreamOptions{Block: -1}, Callbacks{})
			return err
		},
		"nil src": func() error {
			_, err := FitRows(ctx, cfg, nil, 100, dim, trY, vaX, vaY, StreamOptions{}, Callbacks{})
			return err
		},
	} {
		if err := run(); err == nil || !strings.Contains(err.Error(), "train") {
			t.Errorf("%s: err %v", name, err)
		}
	}
}
