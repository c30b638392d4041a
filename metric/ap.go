package metric

import (
	"math"
	"runtime"
	"sync"
)

// scoreKey maps a float32 to a uint32 whose unsigned order is the float order
// (-0 and +0 map to the same key).
func scoreKey(s float32) uint32 {
	if s == 0 {
		s = 0
	}
	b := math.Float32bits(s)
	if b&0x80000000 != 0 {
		return ^b
	}
	return b | 0x80000000
}

// order is one class's known rows sorted by decreasing score, ties by increasing row.
type order struct {
	rows []int32  // row indices
	keys []uint32 // scoreKey of each row's score, non-increasing
	pos  []bool   // whether each row is positive
	npos int
	nneg int
}

// sortColumn builds the order of one column given each row's score key and truth.
// buf and tmp are scratch space reused across calls.
func sortColumn(keys []uint32, truth []int8, buf, tmp []uint64) (order, []uint64, []uint64) {
	buf = buf[:0]
	for i, t := range truth {
		if t < 0 {
			continue
		}
		// Descending score: invert the key. Rows go in ascending order and the radix
		// sort is stable, so ties stay by ascending row.
		buf = append(buf, uint64(^keys[i])<<32|uint64(uint32(i)))
	}
	if cap(tmp) < len(buf) {
		tmp = make([]uint64, len(buf))
	}
	tmp = tmp[:len(buf)]
	sorted := radixSortHigh(buf, tmp)
	o := order{rows: make([]int32, len(sorted)), keys: make([]uint32, len(sorted)), pos: make([]bool, len(sorted))}
	for k, v := range sorted {
		i := int32(uint32(v))
		o.rows[k] = i
		o.keys[k] = ^uint32(v >> 32)
		if truth[i] > 0 {
			o.pos[k] = true
			o.npos++
		} else {
			o.nneg++
		}
	}
	return o, buf, tmp
}

// radixSortHigh stably sorts a by its upper 32 bits (LSD radix, 11-bit digits, digits
// shared by every element skipped), using tmp (same length) as scratch. It returns the
// slice holding the result: a or tmp.
func radixSortHigh(a, tmp []uint64) []uint64 {
	if len(a) < 2 {
		return a
	}
	var cnt [2048]int
	for shift := 32; shift < 64; shift += 11 {
		clear(cnt[:])
		for _, v := range a {
			cnt[(v>>shift)&2047]++
		}
		if cnt[(a[0]>>shift)&2047] == len(a) {
			continue
		}
		sum := 0
		for d, c := range cnt {
			cnt[d] = sum
			sum += c
		}
		for _, v := range a {
			d := (v >> shift) & 2047
			tmp[cnt[d]] = v
			cnt[d]++
		}
		a, tmp = tmp, a
	}
	return a
}

// columns holds the score keys and truth transposed to column-major order, so that each
// class is read contiguously.
type columns struct {
	n     int
	keys  []uint32 // keys[j*n+i]
	truth []int8   // truth[j*n+i]
}

func transpose(scores [][]float32, truth [][]int8, nl int) columns {
	n := len(scores)
	c := columns{n: n, keys: make([]uint32, n*nl), truth: make([]int8, n*nl)}
	const chunk = 1024
	parallel((n+chunk-1)/chunk, func(lo, hi int) {
		for i := lo * chunk; i < min(hi*chunk, n); i++ {
			s, t := scores[i], truth[i]
			for j := 0; j < nl; j++ {
				c.keys[j*n+i] = scoreKey(s[j])
				c.truth[j*n+i] = t[j]
			}
		}
	})
	return c
}

// sortAll sorts every class, in parallel.
func sortAll(scores [][]float32, truth [][]int8, nl int) []order {
	c := transpose(scores, truth, nl)
	orders := make([]order, nl)
	parallel(nl, func(lo, hi int) {
		var buf, tmp []uint64
		for j := lo; j < hi; j++ {
			orders[j], buf, tmp = sortColumn(c.keys[j*c.n:(j+1)*c.n], c.truth[j*c.n:(j+1)*c.n], buf, tmp)
		}
	})
	return orders
}

// sortOne sorts a single class given as flat slices.
func sortOne(scores []float32, truth []int8) order {
	n := min(len(scores), len(truth))
	keys := make([]uint32, n)
	for i := range keys {
		keys[i] = scoreKey(scores[i])
	}
	o, _, _ := sortColumn(keys, truth[:n], nil, nil)
	return o
}

// parallel runs f over [0,n) split into contiguous chunks, one per CPU.
func parallel(n int, f func(lo, hi int)) {
	w := runtime.GOMAXPROCS(0)
	if w > n {
		w = n
	}
	if w <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		lo, hi := n*k/w, n*(k+1)/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// ap computes average precision over a sorted order, every row weighing 1.
func (o *order) ap() (float64, bool) {
	if o.npos == 0 {
		return 0, false
	}
	ptot := float64(o.npos)
	var sum float64
	tp, fp := 0, 0
	n := len(o.rows)
	for k := 0; k < n; {
		// One group of equal scores enters at once.
		dtp := 0
		e := k
		for ; e < n && o.keys[e] == o.keys[k]; e++ {
			if o.pos[e] {
				dtp++
			} else {
				fp++
			}
		}
		tp += dtp
		if dtp > 0 {
			sum += float64(dtp) / ptot * (float64(tp) / float64(tp+fp))
		}
		k = e
	}
	return sum, true
}

// apWeighted is ap with a non-negative integer weight per row (bootstrap counts).
func (o *order) apWeighted(w []int32) (float64, bool) {
	if o.npos == 0 {
		return 0, false
	}
	var sum float64
	var tp, fp, dtp int64
	n := len(o.rows)
	cur := o.keys[0]
	for k := 0; k < n; k++ {
		if o.keys[k] != cur {
			if dtp > 0 {
				tp += dtp
				sum += float64(dtp) * float64(tp) / float64(tp+fp)
				dtp = 0
			}
			cur = o.keys[k]
		}
		c := int64(w[o.rows[k]])
		if o.pos[k] {
			dtp += c
		} else {
			fp += c
		}
	}
	if dtp > 0 {
		tp += dtp
		sum += float64(dtp) * float64(tp) / float64(tp+fp)
	}
	if tp == 0 { // no positive drawn
		return 0, false
	}
	return sum / float64(tp), true
}

// AveragePrecision returns the non-interpolated, tie-aware average precision of one
// class (identical to scikit-learn's average_precision_score), leaving out entries whose
// truth is -1. ok is false when there is no known positive; ap is then 0 and must not be
// averaged.
func AveragePrecision(scores []float32, truth []int8) (ap float64, ok bool) {
	o := sortOne(scores, truth)
	return o.ap()
}

// MeanAP returns the mean average precision over the classes with at least one known
// positive, each class's AP, and whether each class has an AP. When no class has a
// positive, mAP is NaN (check ok). Rows must all have the same length.
func MeanAP(scores [][]float32, truth [][]int8) (mAP float64, perClass []float64, ok []bool) {
	nl := 0
	if len(truth) > 0 {
		nl = len(truth[0])
	}
	orders := sortAll(scores, truth, nl)
	perClass = make([]float64, nl)
	ok = make([]bool, nl)
	for j := range orders {
		perClass[j], ok[j] = orders[j].ap()
	}
	return meanOK(perClass, ok), perClass, ok
}

// meanOK averages v over the entries where ok is true; NaN when there are none.
func meanOK(v []float64, ok []bool) float64 {
	var s float64
	n := 0
	for j := range v {
		if ok[j] {
			s += v[j]
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

// PRPoint is one point of a precision-recall curve: predicting every item whose score is
// >= Threshold gives Precision and Recall.
type PRPoint struct {
	Threshold, Precision, Recall float64
}

// PRCurve returns the precision-recall curve of one class at each distinct score, in
// decreasing threshold order (increasing recall), leaving out unknown entries. It is
// nil when there is no known positive.
func PRCurve(scores []float32, truth []int8) []PRPoint {
	o := sortOne(scores, truth)
	return o.curve()
}

// MicroPRCurve returns the precision-recall curve of all known (image, label) entries
// pooled together (the micro-average).
func MicroPRCurve(scores [][]float32, truth [][]int8) []PRPoint {
	var fs []float32
	var ft []int8
	for i, row := range truth {
		for j, v := range row {
			if v >= 0 {
				fs = append(fs, scores[i][j])
				ft = append(ft, v)
			}
		}
	}
	return PRCurve(fs, ft)
}

func (o *order) curve() []PRPoint {
	if o.npos == 0 {
		return nil
	}
	var pts []PRPoint
	var tp, fp float64
	n := len(o.rows)
	for k := 0; k < n; {
		e := k
		for ; e < n && o.keys[e] == o.keys[k]; e++ {
			if o.pos[e] {
				tp++
			} else {
				fp++
			}
		}
		pts = append(pts, PRPoint{Threshold: keyScore(o.keys[k]), Precision: tp / (tp + fp), Recall: tp / float64(o.npos)})
		k = e
	}
	return pts
}

// keyScore inverts scoreKey.
func keyScore(k uint32) float64 {
	if k&0x80000000 != 0 {
		return float64(math.Float32frombits(k &^ 0x80000000))
	}
	return float64(math.Float32frombits(^k))
}
