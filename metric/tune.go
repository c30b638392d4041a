package metric

import (
	"fmt"
	"slices"
	"sort"
)

// DefaultMinPositives is TuneOptions.MinPositives when that is 0.
const DefaultMinPositives = 10

// TuneOptions controls TuneThresholds.
type TuneOptions struct {
	// MinPositives is the number of known positives a class needs for its own tuned
	// threshold; classes with fewer get the global threshold. 0 means
	// DefaultMinPositives; a negative value means 1.
	MinPositives int
	// GlobalOnly gives every class the global threshold.
	GlobalOnly bool
}

// TuneThresholds chooses, on validation data, one decision threshold per class that
// maximises the class's F1 (predict when score >= threshold). Classes with fewer than
// MinPositives known positives get the global threshold of TuneGlobal instead. A chosen
// threshold lies halfway between the lowest score predicted positive and the next lower
// distinct score (or equals that lowest score when no lower score exists), so it gives
// the same predictions on the validation data and a margin on new data. Among equal F1
// values the highest threshold wins.
func TuneThresholds(scores [][]float32, truth [][]int8, opt TuneOptions) ([]float64, error) {
	nl, err := shape(scores, truth)
	if err != nil {
		return nil, err
	}
	g, _, err := TuneGlobal(scores, truth)
	if err != nil {
		return nil, err
	}
	minPos := opt.MinPositives
	if minPos == 0 {
		minPos = DefaultMinPositives
	}
	if minPos < 1 {
		minPos = 1
	}
	th := make([]float64, nl)
	for j := range th {
		th[j] = g
	}
	if opt.GlobalOnly {
		return th, nil
	}
	orders := sortAll(scores, truth, nl)
	for j := range orders {
		if orders[j].npos >= minPos {
			th[j], _ = bestF1(orders[j].keys, orders[j].pos, orders[j].npos)
		}
	}
	return th, nil
}

// TuneGlobal returns the single threshold that maximises micro-F1 over all known
// entries, and that F1 (same rules as TuneThresholds). With no known positive it returns
// DefaultThreshold.
func TuneGlobal(scores [][]float32, truth [][]int8) (threshold, microF1 float64, err error) {
	if _, err := shape(scores, truth); err != nil {
		return 0, 0, err
	}
	var buf []uint64
	npos := 0
	for i, row := range truth {
		for j, v := range row {
			if v < 0 {
				continue
			}
			if v > 0 {
				npos++
			}
			buf = append(buf, uint64(^scoreKey(scores[i][j]))<<32|uint64(v))
		}
	}
	if npos == 0 {
		return DefaultThreshold, 0, nil
	}
	slices.Sort(buf)
	keys := make([]uint32, len(buf))
	pos := make([]bool, len(buf))
	for k, v := range buf {
		keys[k] = ^uint32(v >> 32)
		pos[k] = v&1 != 0
	}
	t, f := bestF1(keys, pos, npos)
	return t, f, nil
}

// bestF1 sweeps a descending order and returns the F1-maximising threshold and its F1.
func bestF1(keys []uint32, pos []bool, npos int) (float64, float64) {
	n := len(keys)
	best, bestEnd := -1.0, 0
	tp := 0
	for k := 0; k < n; {
		e := k
		for ; e < n && keys[e] == keys[k]; e++ {
			if pos[e] {
				tp++
			}
		}
		// Predicted: e items; F1 = 2TP / (predicted + positives).
		f := 2 * float64(tp) / float64(e+npos)
		if f > best {
			best, bestEnd = f, e
		}
		k = e
	}
	t := keyScore(keys[bestEnd-1])
	if bestEnd < n {
		t = (t + keyScore(keys[bestEnd])) / 2
	}
	return t, best
}

func shape(scores [][]float32, truth [][]int8) (int, error) {
	if len(scores) != len(truth) {
		return 0, fmt.Errorf("%w: %d score rows but %d truth rows", ErrShape, len(scores), len(truth))
	}
	if len(truth) == 0 {
		return 0, fmt.Errorf("%w: no rows", ErrShape)
	}
	nl := len(truth[0])
	for i := range truth {
		if len(truth[i]) != nl || len(scores[i]) != nl {
			return 0, fmt.Errorf("%w: row %d has %d scores and %d truth values, want %d", ErrShape, i, len(scores[i]), len(truth[i]), nl)
		}
	}
	return nl, nil
}

// F1Curve returns micro-F1 and macro-F1 (over the classes with positives) at each
// threshold of grid, for plotting F1 against the threshold.
func F1Curve(scores [][]float32, truth [][]int8, grid []float64) (micro, macro []float64, err error) {
	nl, err := shape(scores, truth)
	if err != nil {
		return nil, nil, err
	}
	orders := sortAll(scores, truth, nl)
	micro = make([]float64, len(grid))
	macro = make([]float64, len(grid))
	cum := make([][]int, nl) // cum[j][k]: positives among the first k items
	for j, o := range orders {
		c := make([]int, len(o.pos)+1)
		for k, p := range o.pos {
			c[k+1] = c[k]
			if p {
				c[k+1]++
			}
		}
		cum[j] = c
	}
	for g, t := range grid {
		var tot Counts
		var f1s []float64
		for j, o := range orders {
			npred := sort.Search(len(o.keys), func(k int) bool { return keyScore(o.keys[k]) < t })
			tp := cum[j][npred]
			c := Counts{TP: tp, FP: npred - tp, FN: o.npos - tp}
			tot = addCounts(tot, c)
			if o.npos > 0 {
				f1s = append(f1s, c.F1())
			}
		}
		micro[g] = tot.F1()
		macro[g] = mean(f1s)
	}
	return micro, macro, nil
}
