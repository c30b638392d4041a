package metric

import (
	"errors"
	"fmt"
	"math"
)

// DefaultThreshold is the decision threshold used when Options.Threshold is 0.
const DefaultThreshold = 0.5

// DefaultTopK is the k of the top-k figures when Options.TopK is 0.
const DefaultTopK = 3

// Options selects the decision rule of Evaluate.
type Options struct {
	// Threshold is the global decision threshold: a label is predicted when its score is
	// >= Threshold. 0 means DefaultThreshold (0.5); it must lie in (0,1].
	Threshold float64
	// Thresholds, when not nil, gives one threshold per label and overrides Threshold.
	Thresholds []float64
	// TopK is the k of the top-k figures; 0 means DefaultTopK (3), a negative value
	// leaves the top-k figures out.
	TopK int
	// Bootstrap, when > 0, is the number of bootstrap resamples of the images used for
	// a confidence interval of mAP (Result.MAPCI); 1000 is a good value.
	Bootstrap int
	// Seed seeds the bootstrap.
	Seed uint64
	// Confidence is the level of the bootstrap interval; 0 means 0.95.
	Confidence float64
}

// Counts are the confusion counts of one class or of all classes.
type Counts struct {
	TP, FP, FN, TN int
}

// Precision is TP/(TP+FP), 0 without predicted positives.
func (c Counts) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP/(TP+FN), 0 without positives.
func (c Counts) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// F1 is 2TP/(2TP+FP+FN), 0 when that is 0/0.
func (c Counts) F1() float64 { return ratio(2*c.TP, 2*c.TP+c.FP+c.FN) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// ClassResult holds the figures of one label.
type ClassResult struct {
	Label string `json:"label"`
	// AP is the class's average precision; HasAP is false when the class has no known
	// positive (AP is then 0 and is written as null).
	AP    float64 `json:"-"`
	HasAP bool    `json:"-"`
	// Positives, Negatives and Unknown count the truth entries of the class.
	Positives int `json:"positives"`
	Negatives int `json:"negatives"`
	Unknown   int `json:"unknown"`
	// Threshold is the decision threshold used for the class.
	Threshold float64 `json:"threshold"`
	// Counts at the threshold, and the figures derived from them.
	Counts    Counts  `json:"-"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// Interval is a confidence interval.
type Interval struct {
	Lo, Hi, Level float64
}

// Result holds every figure Evaluate computes. Its JSON form (MarshalJSON) uses the keys
// mAP, per_class_ap, CP, CR, CF1, OP, OR, OF1, CP_top3 … OF1_top3 (k = TopK), macro_F1,
// micro_F1, hamming_loss, subset_accuracy, coverage, ranking_loss, lrap, n_images,
// n_labels, threshold, and adds top_k, thresholds (per-class thresholds, when given),
// mAP_ci (when bootstrapped) and per_class (the ClassResult list).
type Result struct {
	Labels  []string
	NImages int
	NLabels int
	// Threshold is the global threshold; Thresholds the per-class ones when given.
	Threshold  float64
	Thresholds []float64
	TopK       int // 0 when the top-k figures were left out

	// MAP is the mean AP over the classes with positives; HasMAP is false (and MAP
	// NaN) when no class has a positive.
	MAP      float64
	HasMAP   bool
	PerClass []ClassResult

	CP, CR, CF1, OP, OR, OF1 float64
	// The same six for the top-k predictions.
	CPTopK, CRTopK, CF1TopK, OPTopK, ORTopK, OF1TopK float64

	MacroF1, MicroF1 float64

	HammingLoss, SubsetAccuracy, Coverage, RankingLoss, LRAP float64

	// MAPCI is the bootstrap interval of mAP, nil unless Options.Bootstrap > 0.
	MAPCI *Interval
}

// ErrShape reports matrices whose shapes disagree.
var ErrShape = errors.New("metric: shape mismatch")

// ErrValue reports a score outside [0,1] or NaN, or a truth value outside {-1,0,1}.
var ErrValue = errors.New("metric: bad value")

// Validate checks that scores and truth are n×len(labels), that scores are in [0,1] and
// truth in {-1,0,1}, naming the first offending row and label.
func Validate(scores [][]float32, truth [][]int8, labels []string) error {
	if len(scores) != len(truth) {
		return fmt.Errorf("%w: %d score rows but %d truth rows", ErrShape, len(scores), len(truth))
	}
	nl := len(labels)
	for i := range scores {
		if len(scores[i]) != nl || len(truth[i]) != nl {
			return fmt.Errorf("%w: row %d has %d scores and %d truth values, want %d (labels)", ErrShape, i, len(scores[i]), len(truth[i]), nl)
		}
		for j, s := range scores[i] {
			if !(s >= 0 && s <= 1) {
				return fmt.Errorf("%w: row %d, label %q: score %v is not in [0,1]", ErrValue, i, labels[j], s)
			}
			if t := truth[i][j]; t < -1 || t > 1 {
				return fmt.Errorf("%w: row %d, label %q: truth %d is not -1, 0 or 1", ErrValue, i, labels[j], t)
			}
		}
	}
	return nil
}

func (o Options) thresholds(nl int) ([]float64, float64, error) {
	g := o.Threshold
	if g == 0 {
		g = DefaultThreshold
	}
	if !(g > 0 && g <= 1) {
		return nil, 0, fmt.Errorf("%w: threshold %v is not in (0,1]", ErrValue, o.Threshold)
	}
	th := make([]float64, nl)
	if o.Thresholds != nil {
		if len(o.Thresholds) != nl {
			return nil, 0, fmt.Errorf("%w: %d thresholds for %d labels", ErrShape, len(o.Thresholds), nl)
		}
		for j, t := range o.Thresholds {
			if !(t >= 0 && t <= 1) {
				return nil, 0, fmt.Errorf("%w: threshold %d is %v, not in [0,1]", ErrValue, j, t)
			}
		}
		copy(th, o.Thresholds)
	} else {
		for j := range th {
			th[j] = g
		}
	}
	return th, g, nil
}

// Evaluate computes every figure of Result. labels names the columns; scores and truth
// are validated first (see Validate).
func Evaluate(scores [][]float32, truth [][]int8, labels []string, opt Options) (*Result, error) {
	if err := Validate(scores, truth, labels); err != nil {
		return nil, err
	}
	nl := len(labels)
	th, g, err := opt.thresholds(nl)
	if err != nil {
		return nil, err
	}
	k := opt.TopK
	if k == 0 {
		k = DefaultTopK
	}
	if k < 0 {
		k = 0
	}
	r := &Result{
		Labels:    append([]string(nil), labels...),
		NImages:   len(scores),
		NLabels:   nl,
		Threshold: g,
		TopK:      k,
		PerClass:  make([]ClassResult, nl),
	}
	if opt.Thresholds != nil {
		r.Thresholds = th
	}

	orders := sortAll(scores, truth, nl)
	aps := make([]float64, nl)
	has := make([]bool, nl)
	for j := range orders {
		aps[j], has[j] = orders[j].ap()
	}
	r.MAP = meanOK(aps, has)
	r.HasMAP = !math.IsNaN(r.MAP)

	cnt, cntK := thresholdCounts(scores, truth, th, k)
	for j := range r.PerClass {
		c := cnt[j]
		r.PerClass[j] = ClassResult{
			Label: labels[j], AP: aps[j], HasAP: has[j],
			Positives: orders[j].npos, Negatives: orders[j].nneg,
			Unknown:   len(scores) - orders[j].npos - orders[j].nneg,
			Threshold: th[j], Counts: c,
			Precision: c.Precision(), Recall: c.Recall(), F1: c.F1(),
		}
	}
	r.CP, r.CR, r.CF1, r.OP, r.OR, r.OF1 = six(cnt, has)
	if k > 0 {
		r.CPTopK, r.CRTopK, r.CF1TopK, r.OPTopK, r.ORTopK, r.OF1TopK = six(cntK, has)
	}
	var f1s []float64
	var tot Counts
	for j, c := range cnt {
		if has[j] {
			f1s = append(f1s, c.F1())
		}
		tot = addCounts(tot, c)
	}
	r.MacroF1 = mean(f1s)
	r.MicroF1 = tot.F1()

	ex := exampleBased(scores, truth, th)
	r.HammingLoss, r.SubsetAccuracy, r.Coverage, r.RankingLoss, r.LRAP = ex.hamming, ex.subset, ex.coverage, ex.ranking, ex.lrap

	if opt.Bootstrap > 0 {
		lvl := opt.Confidence
		if lvl == 0 {
			lvl = 0.95
		}
		if !(lvl > 0 && lvl < 1) {
			return nil, fmt.Errorf("%w: confidence %v is not in (0,1)", ErrValue, lvl)
		}
		lo, hi := bootstrapMAP(orders, len(scores), opt.Bootstrap, opt.Seed, lvl)
		r.MAPCI = &Interval{Lo: lo, Hi: hi, Level: lvl}
	}
	return r, nil
}

func addCounts(a, b Counts) Counts {
	return Counts{TP: a.TP + b.TP, FP: a.FP + b.FP, FN: a.FN + b.FN, TN: a.TN + b.TN}
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// six returns CP, CR, CF1 (over the classes with positives) and OP, OR, OF1 (counts
// summed over all classes).
func six(cnt []Counts, has []bool) (cp, cr, cf1, op, or, of1 float64) {
	var ps, rs []float64
	var tot Counts
	for j, c := range cnt {
		tot = addCounts(tot, c)
		if has[j] {
			ps = append(ps, c.Precision())
			rs = append(rs, c.Recall())
		}
	}
	cp, cr = mean(ps), mean(rs)
	if cp+cr > 0 {
		cf1 = 2 * cp * cr / (cp + cr)
	}
	op, or = tot.Precision(), tot.Recall()
	if op+or > 0 {
		of1 = 2 * op * or / (op + or)
	}
	return
}

// thresholdCounts returns the per-class counts at the thresholds and, when k > 0, at
// the top-k rule.
func thresholdCounts(scores [][]float32, truth [][]int8, th []float64, k int) (cnt, cntK []Counts) {
	nl := len(th)
	cnt = make([]Counts, nl)
	cntK = make([]Counts, nl)
	top := make([]int, 0, k)
	mark := make([]bool, nl)
	for i, row := range scores {
		t := truth[i]
		for j, s := range row {
			add(&cnt[j], t[j], float64(s) >= th[j])
		}
		if k == 0 {
			continue
		}
		// The k highest scores, ties by lower index: insertion into a short list.
		top = top[:0]
		for j, s := range row {
			if len(top) == k && s <= row[top[k-1]] {
				continue
			}
			p := len(top)
			if p < k {
				top = append(top, j)
			} else {
				p = k - 1
			}
			for p > 0 && row[top[p-1]] < s {
				top[p] = top[p-1]
				p--
			}
			top[p] = j
		}
		for _, q := range top {
			mark[q] = true
		}
		for j, s := range row {
			add(&cntK[j], t[j], mark[j] && float64(s) >= th[j])
		}
		for _, q := range top {
			mark[q] = false
		}
	}
	return cnt, cntK
}

func add(c *Counts, truth int8, pred bool) {
	switch {
	case truth < 0:
	case truth > 0 && pred:
		c.TP++
	case truth > 0:
		c.FN++
	case pred:
		c.FP++
	default:
		c.TN++
	}
}
