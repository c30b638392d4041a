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

// rowsOnly hides the RawRows methods of a map, so that FitRows converts and
// standardises on the host.
type rowsOnly struct{ m *featcache.Mapped }

func (r rowsOnly) Row(i int, dst []float32) []float32 { return r.m.Row(i, dst) }
func (r rowsOnly) Release(lo, hi int)                 { r.m.Release(lo, hi) }

// TestFitRowsRawEqualsRows: rows handed to the backend as stored (float16 or float32,
// converted and standardised in the step graph) train the same head as rows converted
// and standardised on the host, and as Fit, on the pure-Go and ONNX Runtime backends,
// with and without standardisation, with a partial last minibatch (100 rows, batch 16).
func TestFitRowsRawEqualsRows(t *testing.T) {
	t.Parallel()
	const n, dim = 100, 12
	x, y := synthetic(150, dim, []float64{0.3, 0.5, 0.1}, 0.2, 0.05, 3)
	for i := range x[:n*dim] {
		x[i] = 3*x[i] + 1.5 // moments far from (0, 1), so that standardising matters
	}
	trY, vaX, vaY := y[:n], x[n*dim:], y[n:]
	half, halfVals := mappedSet(t, x[:n*dim], n, dim)
	p := filepath.Join(t.TempDir(), "f32.npy")
	if err := featcache.WriteNPY(p, x[:n*dim], n, dim); err != nil {
		t.Fatal(err)
	}
	full, err := featcache.OpenMapped(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { full.Close() })
	ctx := context.Background()
	for _, backend := range []string{"go", "onnx"} {
		for _, noStd := range []bool{false, true} {
			cfg := smallCfg()
			cfg.Backend, cfg.NoStandardize, cfg.Epochs = backend, noStd, 3
			for _, set := range []struct {
				name string
				m    *featcache.Mapped
				vals []float32
			}{{"float16", half, halfVals}, {"float32", full, x[:n*dim]}} {
				want, err := Fit(ctx, cfg, set.vals, trY, vaX, vaY, dim, Callbacks{})
				if err != nil {
					if backend == "onnx" && os.Getenv("MULTILABEL_REQUIRE_ORT") == "" {
						t.Skipf("onnx backend: %v", err)
					}
					t.Fatal(err)
				}
				for _, opt := range []StreamOptions{{}, {Block: 32}} {
					raw, err := FitRows(ctx, cfg, set.m, n, dim, trY, vaX, vaY, opt, Callbacks{})
					if err != nil {
						t.Fatal(err)
					}
					host, err := FitRows(ctx, cfg, rowsOnly{set.m}, n, dim, trY, vaX, vaY, opt, Callbacks{})
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(stripTimes(raw.History), stripTimes(host.History)) || !reflect.DeepEqual(raw.Head, host.Head) {
						t.Errorf("%s %s standardise=%v block %d: raw rows differ from host-converted rows:\n%+v\n%+v",
							backend, set.name, !noStd, opt.Block, stripTimes(raw.History), stripTimes(host.History))
					}
					if opt.Block == 0 && (!reflect.DeepEqual(stripTimes(raw.History), stripTimes(want.History)) || !reflect.DeepEqual(raw.Head, want.Head)) {
						t.Errorf("%s %s standardise=%v: raw rows differ from Fit", backend, set.name, !noStd)
					}
				}
			}
		}
	}
}
