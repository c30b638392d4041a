package metric

import "slices"

type exampleSums struct {
	wrong, known       int     // hamming
	rows, exact        int     // subset accuracy
	cov, rank, lrapSum float64 // summed over rows
}

type exampleFigures struct {
	hamming, subset, coverage, ranking, lrap float64
}

// exampleBased computes the example-based metrics (see the package comment for the
// conventions), in parallel over rows.
func exampleBased(scores [][]float32, truth [][]int8, th []float64) exampleFigures {
	n := len(scores)
	const chunk = 2048
	nc := (n + chunk - 1) / chunk
	parts := make([]exampleSums, nc)
	parallel(nc, func(lo, hi int) {
		var buf []uint64
		for c := lo; c < hi; c++ {
			end := min((c+1)*chunk, n)
			for i := c * chunk; i < end; i++ {
				buf = exampleRow(scores[i], truth[i], th, &parts[c], buf)
			}
		}
	})
	var s exampleSums
	for _, p := range parts {
		s.wrong += p.wrong
		s.known += p.known
		s.rows += p.rows
		s.exact += p.exact
		s.cov += p.cov
		s.rank += p.rank
		s.lrapSum += p.lrapSum
	}
	var f exampleFigures
	f.hamming = ratio(s.wrong, s.known)
	f.subset = ratio(s.exact, s.rows)
	if s.rows > 0 {
		r := float64(s.rows)
		f.coverage, f.ranking, f.lrap = s.cov/r, s.rank/r, s.lrapSum/r
	}
	return f
}

func exampleRow(row []float32, t []int8, th []float64, s *exampleSums, buf []uint64) []uint64 {
	buf = buf[:0]
	wrong, npos := 0, 0
	for j, v := range t {
		if v < 0 {
			continue
		}
		pred := float64(row[j]) >= th[j]
		if pred != (v > 0) {
			wrong++
		}
		if v > 0 {
			npos++
		}
		// Descending score; the low bit records positivity.
		buf = append(buf, uint64(^scoreKey(row[j]))<<32|uint64(j)<<1|uint64(v))
	}
	nk := len(buf)
	if nk == 0 {
		return buf
	}
	s.rows++
	s.known += nk
	s.wrong += wrong
	if wrong == 0 {
		s.exact++
	}
	if npos == 0 {
		s.lrapSum++ // scikit-learn: no relevant label scores 1; coverage and loss 0
		return buf
	}
	nneg := nk - npos
	if npos <= directMaxPos {
		rankDirect(row, buf, npos, nneg, s)
		return buf
	}
	slices.Sort(buf)
	var cum, cumPos, cumNeg, lastPosCum int
	var loss, lr float64
	for k := 0; k < nk; {
		e := k
		a := 0
		for ; e < nk && buf[e]>>32 == buf[k]>>32; e++ {
			if buf[e]&1 != 0 {
				a++
			}
		}
		cum += e - k
		cumPos += a
		cumNeg += e - k - a
		if a > 0 {
			lastPosCum = cum
			loss += float64(a) * float64(cumNeg)
			lr += float64(a) * float64(cumPos) / float64(cum)
		}
		k = e
	}
	s.cov += float64(lastPosCum)
	if nneg > 0 {
		s.rank += loss / (float64(npos) * float64(nneg))
		s.lrapSum += lr / float64(npos)
	} else {
		s.lrapSum++
	}
	return buf
}

// directMaxPos is the number of positives up to which rankDirect (O(positives × labels))
// beats sorting the row (a variable so that tests run both paths).
var directMaxPos = 8

// rankDirect adds the row's coverage, ranking loss and LRAP by counting, for each
// positive, the known labels scored at least as high (ties count against it).
func rankDirect(row []float32, buf []uint64, npos, nneg int, s *exampleSums) {
	var loss, lr float64
	minPos := float32(2)
	for _, p := range buf {
		if p&1 == 0 {
			continue
		}
		sp := row[int(uint32(p)>>1)]
		minPos = min(minPos, sp)
		above, posAbove := 0, 0
		for _, q := range buf {
			if row[int(uint32(q)>>1)] >= sp {
				above++
				posAbove += int(q & 1)
			}
		}
		loss += float64(above - posAbove)
		lr += float64(posAbove) / float64(above)
	}
	cov := 0
	for _, q := range buf {
		if row[int(uint32(q)>>1)] >= minPos {
			cov++
		}
	}
	s.cov += float64(cov)
	if nneg > 0 {
		s.rank += loss / (float64(npos) * float64(nneg))
		s.lrapSum += lr / float64(npos)
	} else {
		s.lrapSum++
	}
}
