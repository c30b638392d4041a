package train

import (
	"context"
	"fmt"
	"math/rand/v2"
)

// OutOfFold scores every row of x with a head that did not see it: the rows are dealt
// into folds (a permutation seeded by cfg.Seed, round robin), and for each fold a head
// is trained with cfg on the other folds, without a validation share (so cfg.Epochs
// steps the length: there is no early stopping) and scores the fold's rows. It returns
// the logits, one row per input row in input order. folds must be at least 2 and at
// most the number of rows; a fold whose training rows hold no known entry of a class
// still trains (that class's logits are then uninformative).
//
// Out-of-fold scores are honest held-out scores for all of x: callers fit calibration
// temperatures and decision thresholds on them instead of a small validation share.
func OutOfFold(ctx context.Context, cfg Config, x []float32, y [][]int8, dim, folds int) ([][]float32, error) {
	n := len(y)
	switch {
	case folds < 2:
		return nil, fmt.Errorf("train: out-of-fold: %d folds, want at least 2", folds)
	case n < folds:
		return nil, fmt.Errorf("train: out-of-fold: %d rows for %d folds", n, folds)
	case dim <= 0 || len(x) != n*dim:
		return nil, fmt.Errorf("train: out-of-fold: %d feature values for %d rows of dim %d", len(x), n, dim)
	}
	cfg.Patience = 0
	fold := make([]int, n)
	for k, i := range rand.New(rand.NewPCG(cfg.Seed, 0x00f0)).Perm(n) {
		fold[i] = k % folds
	}
	out := make([][]float32, n)
	for f := 0; f < folds; f++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var trX, teX []float32
		var trY [][]int8
		var rows []int
		for i := 0; i < n; i++ {
			if fold[i] == f {
				teX = append(teX, x[i*dim:(i+1)*dim]...)
				rows = append(rows, i)
			} else {
				trX = append(trX, x[i*dim:(i+1)*dim]...)
				trY = append(trY, y[i])
			}
		}
		res, err := Fit(ctx, cfg, trX, trY, nil, nil, dim, Callbacks{})
		if err != nil {
			return nil, fmt.Errorf("train: out-of-fold: fold %d: %w", f+1, err)
		}
		l, err := res.Head.Forward(teX, len(rows))
		if err != nil {
			return nil, fmt.Errorf("train: out-of-fold: fold %d: %w", f+1, err)
		}
		c := res.Head.Out
		for k, i := range rows {
			out[i] = l[k*c : (k+1)*c : (k+1)*c]
		}
	}
	return out, nil
}
