// Package audit looks for label mistakes in a multi-label training set: it scores every
// image with heads that did not see it (k-fold cross-fitting of a linear head on backbone
// features), then ranks two kinds of suspects:
//
//   - missing: the label is absent (a known negative) but the out-of-fold score is high;
//   - wrong: the label is present but the out-of-fold score is low.
//
// Unknown entries (-1) are neither trained on nor ranked. The suspicion of an entry with
// out-of-fold probability p is p − t_l for a missing suspect and t_l − p for a wrong one,
// t_l being the label's F1-best threshold over the out-of-fold scores (so labels with
// different base rates compare fairly); both kinds merge into one ranking by suspicion.
// Every random choice is seeded.
package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/train"
)

// Kinds of suspects.
const (
	Missing = "missing"
	Wrong   = "wrong"
)

// DefaultSteps is the number of optimisation steps of a fold's head by default
// (measured on MIML with 5% flipped entries: 20 epochs of 19 steps found the most).
const DefaultSteps = 400

// Config sets the audit.
type Config struct {
	// Folds is the number of cross-fitting folds (default 5, at least 2).
	Folds int `json:"folds"`
	// Seed drives the fold assignment and the heads.
	Seed uint64 `json:"seed"`
	// Train configures each fold's head; nil gives train.DefaultConfig (a linear head
	// with BCE) trained for about DefaultSteps steps (5 to 500 epochs) without early
	// stopping (no validation share).
	Train *train.Config `json:"train,omitempty"`
}

// Entry is one suspect label entry.
type Entry struct {
	Image string `json:"image"`
	Label string `json:"label"`
	Kind  string `json:"kind"`
	// Score is the out-of-fold probability of the label; Suspicion orders the entries
	// (see the package doc); Rank is 1-based within its kind, Overall over both kinds.
	Score     float64 `json:"score"`
	Suspicion float64 `json:"suspicion"`
	Rank      int     `json:"rank"`
	Overall   int     `json:"overall_rank"`
	// Row and Class index the entry in the input.
	Row   int `json:"row"`
	Class int `json:"class"`
}

// Result holds the two ranked lists and the out-of-fold scores.
type Result struct {
	Missing []Entry `json:"missing"`
	Wrong   []Entry `json:"wrong"`
	// Thresholds are the per-label thresholds the suspicion is measured from.
	Thresholds []float64 `json:"thresholds"`
	// OOFMAP is the mAP of the out-of-fold scores against the given labels.
	OOFMAP  float64 `json:"oof_map"`
	Folds   int     `json:"folds"`
	Seconds float64 `json:"seconds"`
	// Scores are the out-of-fold probabilities, one row per image.
	Scores [][]float32 `json:"-"`
}

// Ranked returns both lists merged, most suspicious first.
func (r *Result) Ranked() []Entry {
	out := append(append([]Entry(nil), r.Missing...), r.Wrong...)
	slices.SortStableFunc(out, func(a, b Entry) int { return cmp.Compare(a.Overall, b.Overall) })
	return out
}

// Run audits n images with features x (n rows of dim) and labels y (1, 0, -1); images
// and labels name the rows and classes in the output.
func Run(ctx context.Context, cfg Config, x []float32, y [][]int8, dim int, images, labels []string) (*Result, error) {
	start := time.Now()
	n := len(y)
	folds := cmp.Or(cfg.Folds, 5)
	switch {
	case folds < 2:
		return nil, fmt.Errorf("audit: %d folds, want at least 2", folds)
	case n < folds:
		return nil, fmt.Errorf("audit: %d images for %d folds", n, folds)
	case len(images) != n:
		return nil, fmt.Errorf("audit: %d image names for %d rows", len(images), n)
	case dim <= 0 || len(x) != n*dim:
		return nil, fmt.Errorf("audit: %d feature values for %d rows of dim %d", len(x), n, dim)
	}
	classes := len(labels)
	for i, row := range y {
		if len(row) != classes {
			return nil, fmt.Errorf("audit: row %d has %d labels, want %d", i, len(row), classes)
		}
	}
	tc := train.DefaultConfig()
	// About DefaultSteps optimisation steps whatever the set's size: enough to fit a
	// linear head on good features, early enough not to learn the noisy labels.
	perEpoch := (n - n/folds + tc.BatchSize - 1) / tc.BatchSize
	tc.Epochs, tc.Patience = min(max((DefaultSteps+perEpoch-1)/perEpoch, 5), 500), 0
	if cfg.Train != nil {
		tc = *cfg.Train
	}
	tc.Seed = cfg.Seed
	logits, err := train.OutOfFold(ctx, tc, x, y, dim, folds)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	scores := make([][]float32, n)
	for i, l := range logits {
		row := make([]float32, classes)
		for c := range row {
			row[c] = float32(1 / (1 + math.Exp(-float64(l[c]))))
		}
		scores[i] = row
	}
	res := &Result{Folds: folds, Scores: scores}
	res.OOFMAP, _, _ = metric.MeanAP(scores, y)
	th, err := metric.TuneThresholds(scores, y, metric.TuneOptions{})
	if err != nil {
		return nil, fmt.Errorf("audit: thresholds: %w", err)
	}
	res.Thresholds = th
	var all []Entry
	for i, row := range y {
		for c, v := range row {
			p := float64(scores[i][c])
			e := Entry{Image: images[i], Label: labels[c], Score: p, Row: i, Class: c}
			switch v {
			case 0:
				e.Kind, e.Suspicion = Missing, p-th[c]
			case 1:
				e.Kind, e.Suspicion = Wrong, th[c]-p
			default:
				continue
			}
			all = append(all, e)
		}
	}
	if len(all) == 0 {
		return nil, errors.New("audit: no known label entry")
	}
	slices.SortStableFunc(all, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(b.Suspicion, a.Suspicion), cmp.Compare(a.Row, b.Row), cmp.Compare(a.Class, b.Class))
	})
	for k := range all {
		all[k].Overall = k + 1
		if all[k].Kind == Missing {
			res.Missing = append(res.Missing, all[k])
			res.Missing[len(res.Missing)-1].Rank = len(res.Missing)
		} else {
			res.Wrong = append(res.Wrong, all[k])
			res.Wrong[len(res.Wrong)-1].Rank = len(res.Wrong)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}
