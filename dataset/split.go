package dataset

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// IterativeStratify splits the samples of d into len(ratios) parts whose sizes follow
// ratios (normalised to sum 1) and whose per-label positive counts follow them as
// closely as the data allows, by the iterative stratification of Sechidis, Tsoumakas and
// Vlahavas (2011): repeatedly take the label with the fewest positives still unassigned,
// and give each of its samples to the part that most lacks that label (ties: the part
// that most lacks samples, then a seeded random choice). One departure from the paper:
// a part that already holds its share of samples is passed over while another part still
// lacks samples, so part sizes stay within a sample of the ratios. Samples with no
// positive label go last to the parts that most lack samples. Unknown entries count as
// not positive.
//
// It returns the sample indices of each part in ascending order. The result depends only
// on the dataset, the ratios and the seed.
func IterativeStratify(d *Dataset, ratios []float64, seed uint64) ([][]int, error) {
	if len(ratios) == 0 {
		return nil, errors.New("dataset: split: no ratios")
	}
	var sum float64
	for i, r := range ratios {
		if !(r > 0) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("dataset: split: ratio %d is %v; want a positive number", i+1, r)
		}
		sum += r
	}
	n, k, L := len(d.Samples), len(ratios), len(d.Labels)
	rng := rand.New(rand.NewPCG(seed, 0x5eed_57a7))

	// Desired sample counts per part, and desired positive counts per (part, label).
	want := make([]float64, k)
	for j, r := range ratios {
		want[j] = float64(n) * r / sum
	}
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("dataset: split: %d samples, at most %d", n, math.MaxInt32)
	}
	// The positive labels of each sample and the positive samples of each label, each in
	// one flat array with offsets (for millions of samples, a slice per sample or label
	// would cost several times the labels themselves).
	labStart := make([]int32, n+1) // sample i's positive labels: labFlat[labStart[i]:labStart[i+1]]
	posCount := make([]int, L)
	for i, s := range d.Samples {
		if len(s.Truth) != L {
			return nil, fmt.Errorf("dataset: split: sample %d (%s) has %d truth values for %d labels", i, s.Image, len(s.Truth), L)
		}
		c := 0
		for l, t := range s.Truth {
			if t == Positive {
				posCount[l]++
				c++
			}
		}
		if int(labStart[i])+c > math.MaxInt32 {
			return nil, fmt.Errorf("dataset: split: more than %d positive labels in all", math.MaxInt32)
		}
		labStart[i+1] = labStart[i] + int32(c)
	}
	labFlat := make([]int32, labStart[n])
	for i, s := range d.Samples {
		k := labStart[i]
		for l, t := range s.Truth {
			if t == Positive {
				labFlat[k] = int32(l)
				k++
			}
		}
	}
	labelsOf := func(i int) []int32 { return labFlat[labStart[i]:labStart[i+1]] }
	wantLabel := make([][]float64, k)
	for j := range wantLabel {
		wantLabel[j] = make([]float64, L)
		for l := range L {
			wantLabel[j][l] = float64(posCount[l]) * ratios[j] / sum
		}
	}

	// A random order of the samples breaks the file order's correlations; every later
	// pass visits samples in this order. Each label's positive samples are listed in
	// that order (filled by visiting the samples in it).
	order := rng.Perm(n)
	posStart := make([]int, L+1) // label l's positive samples: posFlat[posStart[l]:posStart[l+1]]
	for l, c := range posCount {
		posStart[l+1] = posStart[l] + c
	}
	posFlat := make([]int32, posStart[L])
	fill := append([]int(nil), posStart[:L]...)
	for _, i := range order {
		for _, l := range labelsOf(i) {
			posFlat[fill[l]] = int32(i)
			fill[l]++
		}
	}
	positives := func(l int) []int32 { return posFlat[posStart[l]:posStart[l+1]] }
	remaining := make([]int, L) // unassigned positives per label
	for l := range L {
		remaining[l] = posCount[l]
	}
	part := make([]int32, n)
	for i := range part {
		part[i] = -1
	}
	assign := func(i, j int) {
		part[i] = int32(j)
		want[j]--
		for _, l := range labelsOf(i) {
			wantLabel[j][l]--
			remaining[l]--
		}
	}
	// pick returns the best part for a sample by the given primary need (nil: samples only).
	cands := make([]int, 0, k)
	pick := func(primary []float64) int {
		cands = cands[:0]
		best1, best2 := math.Inf(-1), math.Inf(-1)
		// Parts that already have their share of samples are passed over while another
		// still lacks samples, which keeps part sizes close to the ratios.
		open := false
		for j := range k {
			open = open || want[j] > 0.5
		}
		for j := range k {
			if open && want[j] <= 0.5 {
				continue
			}
			p1 := want[j]
			if primary != nil {
				p1 = primary[j]
			}
			p2 := want[j]
			switch {
			case p1 > best1+1e-9 || (math.Abs(p1-best1) <= 1e-9 && p2 > best2+1e-9):
				best1, best2 = p1, p2
				cands = append(cands[:0], j)
			case math.Abs(p1-best1) <= 1e-9 && math.Abs(p2-best2) <= 1e-9:
				cands = append(cands, j)
			}
		}
		if len(cands) == 1 {
			return cands[0]
		}
		return cands[rng.IntN(len(cands))]
	}
	need := make([]float64, k)
	for {
		// The label with the fewest unassigned positives (ties: the lowest index).
		l := -1
		for c := range L {
			if remaining[c] > 0 && (l < 0 || remaining[c] < remaining[l]) {
				l = c
			}
		}
		if l < 0 {
			break
		}
		for _, i := range positives(l) {
			if part[i] >= 0 {
				continue
			}
			for j := range k {
				need[j] = wantLabel[j][l]
			}
			assign(int(i), pick(need))
		}
	}
	for _, i := range order {
		if part[i] < 0 {
			assign(i, pick(nil))
		}
	}
	size := make([]int, k)
	for _, j := range part {
		size[j]++
	}
	parts := make([][]int, k)
	for j := range parts {
		parts[j] = make([]int, 0, size[j])
	}
	for i, j := range part {
		parts[j] = append(parts[j], i)
	}
	return parts, nil
}

// LabelDistribution measures how well parts keep the label proportions of the whole
// dataset: the mean over labels and parts of |share of part's samples positive for the
// label − share of all samples positive for it| (Sechidis et al.'s "LD"-style criterion,
// in absolute proportions). 0 is perfect.
func LabelDistribution(d *Dataset, parts [][]int) float64 {
	L := len(d.Labels)
	if L == 0 || len(d.Samples) == 0 {
		return 0
	}
	total := make([]float64, L)
	for _, s := range d.Samples {
		for l, t := range s.Truth {
			if t == Positive {
				total[l]++
			}
		}
	}
	var dev float64
	var terms int
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		cnt := make([]float64, L)
		for _, i := range p {
			for l, t := range d.Samples[i].Truth {
				if t == Positive {
					cnt[l]++
				}
			}
		}
		for l := range L {
			dev += math.Abs(cnt[l]/float64(len(p)) - total[l]/float64(len(d.Samples)))
			terms++
		}
	}
	if terms == 0 {
		return 0
	}
	return dev / float64(terms)
}
