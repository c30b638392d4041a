package audit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/multilabel/multilabel/train"
)

// teacher returns n rows of dim features with labels from a random linear teacher
// (label c positive when w_c·x > b_c, rates about 30%, 20%, 10%).
func teacher(n, dim int, seed uint64) ([]float32, [][]int8) {
	rng := rand.New(rand.NewPCG(seed, 1))
	bias := []float64{0.5, 0.85, 1.3}
	w := make([][]float64, len(bias))
	for c := range w {
		w[c] = make([]float64, dim)
		for k := range w[c] {
			w[c][k] = rng.NormFloat64() / 4
		}
	}
	x := make([]float32, n*dim)
	y := make([][]int8, n)
	for i := range y {
		y[i] = make([]int8, len(bias))
		for k := 0; k < dim; k++ {
			x[i*dim+k] = float32(rng.NormFloat64())
		}
		for c := range bias {
			s := 0.0
			for k := 0; k < dim; k++ {
				s += w[c][k] * float64(x[i*dim+k])
			}
			if s > bias[c] {
				y[i][c] = 1
			}
		}
	}
	return x, y
}

func TestFindsFlippedLabels(t *testing.T) {
	t.Parallel()
	const n, dim = 600, 16
	x, y := teacher(n, dim, 3)
	rng := rand.New(rand.NewPCG(9, 9))
	flipped := map[[2]int]bool{}
	for len(flipped) < 27 { // 1.5% of the entries
		i, c := rng.IntN(n), rng.IntN(3)
		if !flipped[[2]int{i, c}] {
			flipped[[2]int{i, c}] = true
			y[i][c] = 1 - y[i][c]
		}
	}
	y[5][0] = -1 // an unknown entry is never ranked
	delete(flipped, [2]int{5, 0})
	images := make([]string, n)
	for i := range images {
		images[i] = fmt.Sprintf("img%03d.jpg", i)
	}
	// The teacher's small weights need a larger step than the default (tuned on real
	// features) to be learnt in time.
	tc := train.DefaultConfig()
	tc.Epochs, tc.Patience, tc.LR = 40, 0, 1e-2
	cfg := Config{Folds: 5, Seed: 1, Train: &tc}
	res, err := Run(context.Background(), cfg, x, y, dim, images, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	ranked := res.Ranked()
	if len(ranked) != n*3-1 || len(res.Missing)+len(res.Wrong) != len(ranked) {
		t.Fatalf("%d ranked entries (%d missing, %d wrong), want %d", len(ranked), len(res.Missing), len(res.Wrong), n*3-1)
	}
	hits := 0
	for _, e := range ranked[:len(flipped)] {
		if flipped[[2]int{e.Row, e.Class}] {
			hits++
		}
		if (e.Kind == Missing) != (y[e.Row][e.Class] == 0) {
			t.Fatalf("entry %+v has the wrong kind for label value %d", e, y[e.Row][e.Class])
		}
	}
	frac := float64(hits) / float64(len(flipped))
	t.Logf("top-%d holds %.0f%% of the flipped entries; OOF mAP %.3f, %.2fs", len(flipped), 100*frac, res.OOFMAP, res.Seconds)
	if frac < 0.6 {
		t.Errorf("top-%d holds %.0f%% of the flipped entries, want >= 60%%", len(flipped), 100*frac)
	}
	for k, e := range res.Wrong {
		if e.Rank != k+1 || (k > 0 && e.Suspicion > res.Wrong[k-1].Suspicion) {
			t.Fatalf("wrong list not ranked at %d: %+v", k, e)
		}
	}
	again, err := Run(context.Background(), cfg, x, y, dim, images, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Ranked()[0] != ranked[0] || again.Ranked()[50] != ranked[50] {
		t.Error("same seed, different audit")
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	x, y := teacher(10, 4, 1)
	names := make([]string, 10)
	for _, c := range []struct {
		cfg  Config
		x    []float32
		y    [][]int8
		imgs []string
	}{
		{Config{Folds: 1}, x, y, names},
		{Config{Folds: 20}, x, y, names},
		{Config{}, x[:7], y, names},
		{Config{}, x, y, names[:3]},
		{Config{}, x, append(y[:9:9], []int8{1}), names},
	} {
		if _, err := Run(context.Background(), c.cfg, c.x, c.y, 4, c.imgs, []string{"a", "b", "c"}); err == nil {
			t.Errorf("Run(folds %d, %d values, %d rows, %d names) accepted", c.cfg.Folds, len(c.x), len(c.y), len(c.imgs))
		}
	}
}
