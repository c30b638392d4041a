// Package calib calibrates per-label scores and turns them into decisions:
//
//   - temperature scaling per label: p = σ(z / T_l), T_l > 0 fitted on validation
//     logits by minimising the negative log-likelihood of the known entries (a
//     monotone map, so rankings and AP are unchanged);
//   - expected calibration error (ECE) per label, over equal-width probability bins;
//   - decision rules: "f1" (the F1-best threshold per label), "precision:P" (the lowest
//     threshold whose validation precision reaches P: the most recall at that
//     precision), "recall:R" (the highest threshold whose validation recall reaches R)
//     and "topk:K" (F1 thresholds, then at most the K best-scored labels above their
//     thresholds).
//
// A label whose rule cannot be met on the validation data (no known positive, or the
// precision never reached) falls back to its F1 threshold, and the fallback is named
// in the returned notes — never a silent threshold of 0 or 1.
package calib

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/metric"
)

// Rule kinds.
const (
	F1        = "f1"
	Precision = "precision"
	Recall    = "recall"
	TopK      = "topk"
)

// Decision is a parsed decision rule.
type Decision struct {
	Kind   string  `json:"kind"`
	Target float64 `json:"target,omitempty"` // precision or recall target, in (0, 1]
	K      int     `json:"k,omitempty"`      // topk
}

// String returns the rule as ParseDecision reads it.
func (d Decision) String() string {
	switch d.Kind {
	case Precision, Recall:
		return d.Kind + ":" + strconv.FormatFloat(d.Target, 'g', -1, 64)
	case TopK:
		return d.Kind + ":" + strconv.Itoa(d.K)
	}
	return cmp.Or(d.Kind, F1)
}

// ParseDecision reads "f1", "precision:P", "recall:R" (0 < P, R <= 1) or "topk:K"
// (K >= 1). Errors are of kind errkind.ErrBadInput.
func ParseDecision(s string) (Decision, error) {
	kind, arg, hasArg := strings.Cut(strings.TrimSpace(s), ":")
	switch kind {
	case F1, "":
		if hasArg {
			return Decision{}, errkind.BadInput("decision %q: f1 takes no value", s)
		}
		return Decision{Kind: F1}, nil
	case Precision, Recall:
		v, err := strconv.ParseFloat(arg, 64)
		if err != nil || !(v > 0 && v <= 1) {
			return Decision{}, errkind.BadInput("decision %q: want %s:P with 0 < P <= 1", s, kind)
		}
		return Decision{Kind: kind, Target: v}, nil
	case TopK:
		k, err := strconv.Atoi(arg)
		if err != nil || k < 1 {
			return Decision{}, errkind.BadInput("decision %q: want topk:K with K >= 1", s)
		}
		return Decision{Kind: TopK, K: k}, nil
	}
	return Decision{}, errkind.BadInput("decision %q: want f1, precision:P, recall:R or topk:K", s)
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// nll is the mean negative log-likelihood of σ(z/T) over the known entries of column c.
func nll(logits [][]float32, truth [][]int8, c int, t float64) float64 {
	var s float64
	var n int
	for i, row := range logits {
		y := truth[i][c]
		if y < 0 {
			continue
		}
		z := float64(row[c]) / t
		// −log σ(z) = softplus(−z), −log(1−σ(z)) = softplus(z)
		if y == 1 {
			z = -z
		}
		s += math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z)))
		n++
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// FitTemperatures returns one temperature per label (logits [n][labels], truth in
// {1,0,-1}), minimising the validation NLL over T in [0.05, 20] by golden-section
// search on log T. A label without both a known positive and a known negative keeps 1.
func FitTemperatures(logits [][]float32, truth [][]int8) ([]float64, error) {
	if len(logits) == 0 || len(logits) != len(truth) {
		return nil, errkind.BadInput("calib: %d logit rows for %d truth rows (want the same, at least 1)", len(logits), len(truth))
	}
	labels := len(logits[0])
	for i, row := range logits {
		if len(row) != labels || len(truth[i]) != labels {
			return nil, errkind.BadInput("calib: row %d has %d logits and %d truth values, want %d", i, len(row), len(truth[i]), labels)
		}
		for c, z := range row {
			if math.IsNaN(float64(z)) || math.IsInf(float64(z), 0) {
				return nil, errkind.BadInput("calib: row %d, label %d: logit %v", i, c, z)
			}
		}
	}
	out := make([]float64, labels)
	for c := range out {
		out[c] = 1
		pos, neg := 0, 0
		for i := range truth {
			switch truth[i][c] {
			case 1:
				pos++
			case 0:
				neg++
			}
		}
		if pos == 0 || neg == 0 {
			continue
		}
		f := func(u float64) float64 { return nll(logits, truth, c, math.Exp(u)) }
		lo, hi := math.Log(0.05), math.Log(20)
		g := (math.Sqrt(5) - 1) / 2
		a, b := hi-g*(hi-lo), lo+g*(hi-lo)
		fa, fb := f(a), f(b)
		for k := 0; k < 80; k++ {
			if fa < fb {
				hi, b, fb = b, a, fa
				a = hi - g*(hi-lo)
				fa = f(a)
			} else {
				lo, a, fa = a, b, fb
				b = lo + g*(hi-lo)
				fb = f(b)
			}
		}
		out[c] = math.Exp((lo + hi) / 2)
	}
	return out, nil
}

// Apply returns σ(z / T_l) for every entry of logits.
func Apply(logits [][]float32, temps []float64) [][]float32 {
	out := make([][]float32, len(logits))
	for i, row := range logits {
		out[i] = make([]float32, len(row))
		for c, z := range row {
			t := 1.0
			if c < len(temps) {
				t = temps[c]
			}
			out[i][c] = float32(sigmoid(float64(z) / t))
		}
	}
	return out
}

// ECE returns the expected calibration error of each label's probabilities over bins
// equal-width bins (bins <= 0: 15): Σ_b (n_b/n)·|mean truth − mean probability| over the
// known entries; NaN for a label without known entries.
func ECE(probs [][]float32, truth [][]int8, bins int) []float64 {
	if bins <= 0 {
		bins = 15
	}
	if len(probs) == 0 {
		return nil
	}
	out := make([]float64, len(probs[0]))
	for c := range out {
		cnt := make([]float64, bins)
		conf := make([]float64, bins)
		acc := make([]float64, bins)
		n := 0.0
		for i, row := range probs {
			y := truth[i][c]
			if y < 0 {
				continue
			}
			p := float64(row[c])
			b := min(int(p*float64(bins)), bins-1)
			cnt[b]++
			conf[b] += p
			acc[b] += float64(y)
			n++
		}
		if n == 0 {
			out[c] = math.NaN()
			continue
		}
		for b := range cnt {
			if cnt[b] > 0 {
				out[c] += cnt[b] / n * math.Abs(acc[b]/cnt[b]-conf[b]/cnt[b])
			}
		}
	}
	return out
}

// Thresholds chooses one threshold per label for rule d on validation scores and
// truth (predict when score >= threshold). notes name every label that fell back to
// its F1 threshold, and why.
func Thresholds(d Decision, scores [][]float32, truth [][]int8) (th []float64, notes []string, err error) {
	f1, err := metric.TuneThresholds(scores, truth, metric.TuneOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("calib: %w", err)
	}
	if d.Kind != Precision && d.Kind != Recall {
		return f1, nil, nil
	}
	return FromCurves(d, Curves(scores, truth), f1)
}

// Curve is one label's validation operating points: its distinct validation scores,
// highest first, with the numbers of known positives (TP) and known negatives (FP)
// scored at or above each. It is all a precision or recall rule needs, so a model that
// carries its curves can switch rules without the validation data.
type Curve struct {
	Scores []float32 `json:"scores"`
	TP     []int     `json:"tp"`
	FP     []int     `json:"fp"`
}

// Positives is the number of known positives behind the curve.
func (c Curve) Positives() int {
	if len(c.TP) == 0 {
		return 0
	}
	return c.TP[len(c.TP)-1]
}

// Validate checks that the curve's parts have one length, its scores strictly
// decrease and its counts never decrease.
func (c Curve) Validate() error {
	if len(c.TP) != len(c.Scores) || len(c.FP) != len(c.Scores) {
		return fmt.Errorf("calib: curve with %d scores, %d tp, %d fp", len(c.Scores), len(c.TP), len(c.FP))
	}
	for i := range c.Scores {
		if math.IsNaN(float64(c.Scores[i])) || (i > 0 && (c.Scores[i] >= c.Scores[i-1] || c.TP[i] < c.TP[i-1] || c.FP[i] < c.FP[i-1])) || c.TP[i] < 0 || c.FP[i] < 0 {
			return fmt.Errorf("calib: curve point %d out of order", i)
		}
	}
	return nil
}

// Curves computes each label's Curve from validation scores and truth (unknown
// entries, < 0, left out).
func Curves(scores [][]float32, truth [][]int8) []Curve {
	if len(scores) == 0 {
		return nil
	}
	out := make([]Curve, len(scores[0]))
	for c := range out {
		type pt struct {
			s float32
			y int8
		}
		var pts []pt
		for i, row := range scores {
			if y := truth[i][c]; y >= 0 {
				pts = append(pts, pt{row[c], y})
			}
		}
		slices.SortFunc(pts, func(a, b pt) int { return cmp.Compare(b.s, a.s) })
		cv := Curve{Scores: []float32{}, TP: []int{}, FP: []int{}}
		tp, fp := 0, 0
		for k := 0; k < len(pts); {
			s := pts[k].s
			for k < len(pts) && pts[k].s == s {
				if pts[k].y == 1 {
					tp++
				} else {
					fp++
				}
				k++
			}
			cv.Scores, cv.TP, cv.FP = append(cv.Scores, s), append(cv.TP, tp), append(cv.FP, fp)
		}
		out[c] = cv
	}
	return out
}

// FromCurves chooses one threshold per label for rule d from the labels' validation
// curves, starting from (and falling back to) the F1 thresholds f1; f1 and topk rules
// return f1 itself. notes name every label that fell back, and why.
func FromCurves(d Decision, curves []Curve, f1 []float64) (th []float64, notes []string, err error) {
	if d.Kind != Precision && d.Kind != Recall {
		return f1, nil, nil
	}
	if len(curves) != len(f1) {
		return nil, nil, fmt.Errorf("calib: %d curves for %d thresholds", len(curves), len(f1))
	}
	th = slices.Clone(f1)
	for c, cv := range curves {
		pos := cv.Positives()
		if pos == 0 {
			notes = append(notes, fmt.Sprintf("label %d: no known positive in the validation share; %s falls back to the F1 threshold %.4g", c, d, th[c]))
			continue
		}
		// Thresholds are taken between distinct scores (at the lower score of the
		// group, as predict uses >=), from the highest score down.
		found := false
		best := 0.0
		for k, s := range cv.Scores {
			tp, fp := cv.TP[k], cv.FP[k]
			prec, rec := float64(tp)/float64(tp+fp), float64(tp)/float64(pos)
			switch d.Kind {
			case Precision:
				if prec >= d.Target {
					best, found = float64(s), true // keep going: lower thresholds give more recall
				}
			case Recall:
				if rec >= d.Target && !found {
					best, found = float64(s), true
				}
			}
		}
		if !found {
			notes = append(notes, fmt.Sprintf("label %d: %s is not reached on the validation share; falls back to the F1 threshold %.4g", c, d, th[c]))
			continue
		}
		th[c] = best
	}
	return th, notes, nil
}

// Decide returns, for one row of scores, the indices of the labels the rule predicts:
// those at or above their threshold, and for topk only the K best-scored of them
// (highest score first; ties by index).
func Decide(d Decision, scores []float32, th []float64) []int {
	var out []int
	for c, s := range scores {
		if float64(s) >= th[c] {
			out = append(out, c)
		}
	}
	if d.Kind == TopK && len(out) > d.K {
		slices.SortStableFunc(out, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
		out = out[:d.K]
		slices.Sort(out)
	}
	return out
}

// Undo returns the probabilities the calibrated probs had before temperature scaling:
// σ(T_l · logit(p)) for each label l (probabilities are clamped away from 0 and 1 first,
// so a saturated score stays finite). Used to show before/after figures from the
// calibrated scores alone.
func Undo(probs [][]float32, temps []float64) [][]float32 {
	out := make([][]float32, len(probs))
	for i, row := range probs {
		out[i] = make([]float32, len(row))
		for c, p := range row {
			q := math.Min(math.Max(float64(p), 1e-7), 1-1e-7)
			out[i][c] = float32(sigmoid(temps[c] * math.Log(q/(1-q))))
		}
	}
	return out
}

// Calibration methods (train --calibrate).
const (
	TemperatureMethod = "temperature"
	PlattMethod       = "platt"
)

// PlattRidge is the L2 penalty λ on the Platt slope: FitPlatt minimises the summed
// negative log-likelihood plus λ·a²/2, which keeps a finite on a label whose scores
// separate its known entries perfectly (the intercept is not penalised, as in
// scikit-learn's LogisticRegression with C = 1/λ).
const PlattRidge = 1e-4

// FitPlatt fits Platt scaling per label, p = σ(a_l·z + b_l), on logits [n][labels] and
// truth in {1,0,-1} (unknown entries left out), by Newton's method with a backtracking
// line search on the penalised log-likelihood (see PlattRidge). A label without both a
// known positive and a known negative keeps a = 1, b = 0; a label whose fitted slope is
// not positive (scores ranked backwards on the fitting data) gets its temperature
// instead (a = 1/T, b = 0), so calibration never reverses a ranking.
func FitPlatt(logits [][]float32, truth [][]int8) (a, b []float64, err error) {
	temps, err := FitTemperatures(logits, truth) // validates the shapes too
	if err != nil {
		return nil, nil, err
	}
	labels := len(temps)
	a, b = make([]float64, labels), make([]float64, labels)
	for c := range a {
		a[c], b[c] = 1, 0
		var z []float64
		var y []float64
		pos := 0
		for i, row := range logits {
			if v := truth[i][c]; v >= 0 {
				z, y = append(z, float64(row[c])), append(y, float64(v))
				pos += int(v)
			}
		}
		if pos == 0 || pos == len(z) {
			continue
		}
		obj := func(sa, sb float64) float64 {
			s := PlattRidge * sa * sa / 2
			for i := range z {
				u := sa*z[i] + sb
				if y[i] == 1 {
					u = -u
				}
				s += math.Max(u, 0) + math.Log1p(math.Exp(-math.Abs(u)))
			}
			return s
		}
		ca, cb := 1/temps[c], 0.0
		f := obj(ca, cb)
		for it := 0; it < 100; it++ {
			ga, gb := PlattRidge*ca, 0.0
			haa, hab, hbb := PlattRidge, 0.0, 0.0
			for i := range z {
				p := sigmoid(ca*z[i] + cb)
				r, w := p-y[i], p*(1-p)
				ga, gb = ga+r*z[i], gb+r
				haa, hab, hbb = haa+w*z[i]*z[i], hab+w*z[i], hbb+w
			}
			det := haa*hbb - hab*hab
			if !(det > 0) {
				break
			}
			da, db := (hbb*ga-hab*gb)/det, (haa*gb-hab*ga)/det
			step, improved := 1.0, false
			for k := 0; k < 40; k++ {
				na, nb := ca-step*da, cb-step*db
				if nf := obj(na, nb); nf <= f {
					improved = f-nf > 1e-13*math.Max(1, f)
					ca, cb, f = na, nb, nf
					break
				}
				step /= 2
			}
			if !improved || math.Abs(da)+math.Abs(db) < 1e-12 {
				break
			}
		}
		if ca > 0 && !math.IsNaN(cb) {
			a[c], b[c] = ca, cb
		} else {
			a[c], b[c] = 1/temps[c], 0
		}
	}
	return a, b, nil
}

// affineAt returns label c's slope and intercept: 1 and 0 past the end of a or b.
func affineAt(a, b []float64, c int) (sa, sb float64) {
	sa, sb = 1, 0
	if c < len(a) {
		sa = a[c]
	}
	if c < len(b) {
		sb = b[c]
	}
	return sa, sb
}

// ApplyAffine returns σ(a_l·z + b_l) for every entry of logits (labels past the end
// of a or b keep a = 1, b = 0). Temperature scaling is a = 1/T, b = 0.
func ApplyAffine(logits [][]float32, a, b []float64) [][]float32 {
	out := make([][]float32, len(logits))
	for i, row := range logits {
		out[i] = make([]float32, len(row))
		for c, z := range row {
			sa, sb := affineAt(a, b, c)
			out[i][c] = float32(sigmoid(sa*float64(z) + sb))
		}
	}
	return out
}

// UndoAffine returns the probabilities probs had before the map z → a·z + b:
// σ((logit(p) − b_l)/a_l), probabilities clamped away from 0 and 1 first (labels past
// the end of a or b keep a = 1, b = 0).
func UndoAffine(probs [][]float32, a, b []float64) [][]float32 {
	out := make([][]float32, len(probs))
	for i, row := range probs {
		out[i] = make([]float32, len(row))
		for c, p := range row {
			sa, sb := affineAt(a, b, c)
			q := math.Min(math.Max(float64(p), 1e-7), 1-1e-7)
			out[i][c] = float32(sigmoid((math.Log(q/(1-q)) - sb) / sa))
		}
	}
	return out
}
