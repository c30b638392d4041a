package dataset

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
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
	positives := make([][]int, L) // label -> samples with it positive
	labelsOf := make([][]int, n)  // sample -> its positive labels
	for i, s := range d.Samples {
		if len(s.Truth) != L {
			return nil, fmt.Errorf("dataset: split: sample %d (%s) has %d truth values for %d labels", i, s.Image, len(s.Truth), L)
		}
		for l, t := range s.Truth {
			if t == Positive {
				positives[l] = append(positives[l], i)
				labelsOf[i] = append(labelsOf[i], l)
			}
		}
	}
	wantLabel := make([][]float64, k)
	for j := range wantLabel {
		wantLabel[j] = make([]float64, L)
		for l := range L {
			wantLabel[j][l] = float64(len(positives[l])) * ratios[j] / sum
		}
	}

	// A random order of the samples breaks the file order's correlations; every later
	// pass visits samples in this order.
	order := rng.Perm(n)
	rank := make([]int, n)
	for r, i := range order {
		rank[i] = r
	}
	for l := range positives {
		sort.Slice(positives[l], func(a, b int) bool { return rank[positives[l][a]] < rank[positives[l][b]] })
	}
	remaining := make([]int, L) // unassigned positives per label
	for l := range L {
		remaining[l] = len(positives[l])
	}
	part := make([]int, n)
	for i := range part {
		part[i] = -1
	}
	assign := func(i, j int) {
		part[i] = j
		want[j]--
		for _, l := range labelsOf[i] {
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
		for _, i := range positives[l] {
			if part[i] >= 0 {
				continue
			}
			for j := range k {
				need[j] = wantLabel[j][l]
			}
			assign(i, pick(need))
		}
	}
	for _, i := range order {
		if part[i] < 0 {
			assign(i, pick(nil))
		}
	}
	parts := make([][]int, k)
	for i, j := range part {
		parts[j] = append(parts[j], i)
	}
	for j := range parts {
		if parts[j] == nil {
			parts[j] = []int{}
		}
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
