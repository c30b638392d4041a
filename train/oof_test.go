package train

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/multilabel/multilabel/metric"
)

// TestOutOfFoldHeldOut: with random labels and more feature dimensions than rows, a
// head memorises its training rows (in-sample AP near 1) but knows nothing of rows it
// did not see, so honest out-of-fold scores have an AP near the chance level. A row
// scored by a head that saw it would show up as a high out-of-fold AP.
func TestOutOfFoldHeldOut(t *testing.T) {
	t.Parallel()
	const n, dim, classes = 80, 120, 2
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, n*dim)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([][]int8, n)
	for i := range y {
		y[i] = []int8{int8(i % 2), int8(rng.IntN(2))}
	}
	rng.Shuffle(n, func(i, j int) { y[i], y[j] = y[j], y[i] })
	cfg := DefaultConfig()
	cfg.Epochs, cfg.LR, cfg.Backend, cfg.Seed = 60, 0.01, "go", 5
	oof, err := OutOfFold(context.Background(), cfg, x, y, dim, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(oof) != n || len(oof[0]) != classes {
		t.Fatalf("%d rows of %d logits, want %d of %d", len(oof), len(oof[0]), n, classes)
	}
	res, err := Fit(context.Background(), cfg, x, y, nil, nil, dim, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	flat, err := res.Head.Forward(x, n)
	if err != nil {
		t.Fatal(err)
	}
	in := make([][]float32, n)
	for i := range in {
		in[i] = flat[i*classes : (i+1)*classes]
	}
	inMAP, _, _ := metric.MeanAP(in, y)
	oofMAP, _, _ := metric.MeanAP(oof, y)
	t.Logf("in-sample mAP %.3f, out-of-fold mAP %.3f", inMAP, oofMAP)
	if inMAP < 0.95 {
		t.Errorf("in-sample mAP %.3f: the head should memorise random labels here", inMAP)
	}
	if oofMAP > 0.75 {
		t.Errorf("out-of-fold mAP %.3f on random labels: rows scored by heads that saw them?", oofMAP)
	}
	again, err := OutOfFold(context.Background(), cfg, x, y, dim, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range oof {
		if !slices.Equal(oof[i], again[i]) {
			t.Fatalf("row %d differs between two seeded runs: %v vs %v", i, oof[i], again[i])
		}
	}
	for _, bad := range []struct {
		folds, rows int
	}{{1, n}, {0, n}, {5, 4}} {
		if _, err := OutOfFold(context.Background(), cfg, x[:bad.rows*dim], y[:bad.rows], dim, bad.folds); err == nil {
			t.Errorf("%d folds on %d rows: no error", bad.folds, bad.rows)
		}
	}
}
