// Package sampler chooses the order (and the repetitions) in which training images are
// visited in each epoch, to counter label imbalance:
//
//   - uniform: a seeded permutation of the training set (the default; the order the
//     trainers always used).
//   - repeat-factor (LVIS, Gupta et al. 2019): with f(c) the share of training images
//     holding label c, r(c) = max(1, √(t/f(c))) and an image's factor r = max over its
//     labels (1 for an image without a positive label). Each epoch an image appears
//     ⌊r⌋ times plus once more with probability r − ⌊r⌋ (stochastic rounding), then the
//     epoch is shuffled. t is Config.RepeatThreshold (default 0.001 as in LVIS).
//   - class-aware (Shen et al. 2016): the labels are cycled in a shuffled order (a new
//     order each cycle) and each visit draws the next image of that label's shuffled
//     list (reshuffled when exhausted); an epoch has as many draws as training images.
//   - ml-ros (Charte et al. 2015): with IRLbl(l) = count of the most frequent label /
//     count of l and MeanIR the mean IRLbl, random images holding a label whose IRLbl
//     exceeds MeanIR are cloned, visiting those labels in turn and dropping a label
//     once its IRLbl (updated as clones are added) falls to MeanIR, until the set has
//     grown by Config.ROSPercent percent (default 25). When every label has fallen to
//     MeanIR first, MeanIR is recomputed on the grown set and cloning goes on with the
//     labels above it (it stops early only on a perfectly balanced set).
//     The clones are chosen once; each epoch is a seeded permutation of the grown set.
//
// Counts consider known positives only: unknown label entries (-1) count neither as
// holding the label nor as lacking it (f(c) is positives over images where c is known).
// Every order is a pure function of (labels, Config, seed, epoch key), so runs are
// deterministic and resumable.
package sampler

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/multilabel/multilabel/errkind"
)

// Sampler kinds.
const (
	Uniform      = "uniform"
	RepeatFactor = "repeat-factor"
	ClassAware   = "class-aware"
	MLROS        = "ml-ros"
)

// Kinds lists the accepted sampler names.
var Kinds = []string{Uniform, RepeatFactor, ClassAware, MLROS}

// Defaults of the hyper-parameters.
const (
	DefaultRepeatThreshold = 0.001
	DefaultROSPercent      = 25.0
)

// Config selects a sampler. Zero values take the defaults (uniform, t = 0.001, 25%).
type Config struct {
	Kind            string  `json:"kind,omitempty"`
	RepeatThreshold float64 `json:"repeat_threshold,omitempty"`
	ROSPercent      float64 `json:"ros_percent,omitempty"`
}

// Resolved returns c with defaults filled in.
func (c Config) Resolved() Config {
	c.Kind = cmp.Or(c.Kind, Uniform)
	if c.RepeatThreshold == 0 {
		c.RepeatThreshold = DefaultRepeatThreshold
	}
	if c.ROSPercent == 0 {
		c.ROSPercent = DefaultROSPercent
	}
	return c
}

// Validate checks c (after defaults); errors are of kind errkind.ErrBadInput.
func (c Config) Validate() error {
	c = c.Resolved()
	if !slices.Contains(Kinds, c.Kind) {
		return errkind.BadInput("sampler: unknown sampler %q (want %s)", c.Kind, strings.Join(Kinds, ", "))
	}
	if !(c.RepeatThreshold > 0 && c.RepeatThreshold <= 1) {
		return errkind.BadInput("sampler: repeat threshold %v must be in (0, 1]", c.RepeatThreshold)
	}
	if !(c.ROSPercent > 0 && c.ROSPercent <= 1000) {
		return errkind.BadInput("sampler: ros percent %v must be in (0, 1000]", c.ROSPercent)
	}
	return nil
}

// Sampler gives the visiting order of each epoch.
type Sampler struct {
	cfg    Config
	n      int
	seed   uint64
	factor []float64 // repeat-factor: per image
	byLbl  [][]int   // class-aware: images holding each label (labels without images left out)
	grown  []int     // ml-ros: the original indices followed by the clones
}

// New builds a sampler for labels (one row per training image: 1 positive, 0
// negative, -1 unknown). seed drives every random choice.
func New(cfg Config, labels [][]int8, seed uint64) (*Sampler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.Resolved()
	s := &Sampler{cfg: cfg, n: len(labels), seed: seed}
	switch cfg.Kind {
	case RepeatFactor:
		s.factor = RepeatFactors(labels, cfg.RepeatThreshold)
	case ClassAware:
		for _, imgs := range imagesByLabel(labels) {
			if len(imgs) > 0 {
				s.byLbl = append(s.byLbl, imgs)
			}
		}
	case MLROS:
		s.grown = ROSClones(labels, cfg.ROSPercent, seed)
	}
	return s, nil
}

// Config returns the resolved configuration.
func (s *Sampler) Config() Config { return s.cfg }

// Epoch returns the indices (into the training rows) visited in the epoch with the
// given key (callers use the epoch number, or an epoch/view counter). For the uniform
// sampler it is rand.New(rand.NewPCG(seed, key)).Perm(n).
func (s *Sampler) Epoch(key uint64) []int {
	rng := rand.New(rand.NewPCG(s.seed, key))
	switch s.cfg.Kind {
	case RepeatFactor:
		var out []int
		for i, r := range s.factor {
			k := int(math.Floor(r))
			if rng.Float64() < r-float64(k) {
				k++
			}
			for ; k > 0; k-- {
				out = append(out, i)
			}
		}
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out
	case ClassAware:
		if len(s.byLbl) == 0 {
			return rng.Perm(s.n)
		}
		lists := make([][]int, len(s.byLbl))
		pos := make([]int, len(s.byLbl))
		for l, imgs := range s.byLbl {
			lists[l] = slices.Clone(imgs)
			rng.Shuffle(len(imgs), func(i, j int) { lists[l][i], lists[l][j] = lists[l][j], lists[l][i] })
		}
		out := make([]int, 0, s.n)
		for len(out) < s.n {
			for _, l := range rng.Perm(len(lists)) {
				if len(out) == s.n {
					break
				}
				if pos[l] == len(lists[l]) {
					rng.Shuffle(len(lists[l]), func(i, j int) { lists[l][i], lists[l][j] = lists[l][j], lists[l][i] })
					pos[l] = 0
				}
				out = append(out, lists[l][pos[l]])
				pos[l]++
			}
		}
		return out
	case MLROS:
		out := make([]int, len(s.grown))
		for i, p := range rng.Perm(len(s.grown)) {
			out[i] = s.grown[p]
		}
		return out
	}
	return rng.Perm(s.n)
}

// imagesByLabel lists, per label, the images holding it (known positives).
func imagesByLabel(labels [][]int8) [][]int {
	classes := 0
	for _, row := range labels {
		classes = max(classes, len(row))
	}
	out := make([][]int, classes)
	for i, row := range labels {
		for c, v := range row {
			if v == 1 {
				out[c] = append(out[c], i)
			}
		}
	}
	return out
}

// RepeatFactors returns each image's LVIS repeat factor for threshold t: the max over
// its labels c of max(1, √(t/f(c))), f(c) = positives of c / images where c is known;
// 1 for an image without a positive.
func RepeatFactors(labels [][]int8, t float64) []float64 {
	classes := 0
	for _, row := range labels {
		classes = max(classes, len(row))
	}
	pos := make([]float64, classes)
	known := make([]float64, classes)
	for _, row := range labels {
		for c, v := range row {
			if v == 1 {
				pos[c]++
			}
			if v == 0 || v == 1 {
				known[c]++
			}
		}
	}
	rc := make([]float64, classes)
	for c := range rc {
		rc[c] = 1
		if pos[c] > 0 {
			rc[c] = math.Max(1, math.Sqrt(t/(pos[c]/known[c])))
		}
	}
	out := make([]float64, len(labels))
	for i, row := range labels {
		out[i] = 1
		for c, v := range row {
			if v == 1 {
				out[i] = math.Max(out[i], rc[c])
			}
		}
	}
	return out
}

// IRLbl returns the imbalance ratio per label (count of the most frequent label /
// count of the label; 0 for a label without positives, which takes no part) and
// MeanIR, the mean over the labels with positives.
func IRLbl(labels [][]int8) (ir []float64, meanIR float64) {
	counts := labelCounts(labels)
	return irOf(counts)
}

func labelCounts(labels [][]int8) []float64 {
	byL := imagesByLabel(labels)
	counts := make([]float64, len(byL))
	for c, imgs := range byL {
		counts[c] = float64(len(imgs))
	}
	return counts
}

func irOf(counts []float64) ([]float64, float64) {
	top := slices.Max(append([]float64{0}, counts...))
	ir := make([]float64, len(counts))
	var sum float64
	var k int
	for c, n := range counts {
		if n > 0 {
			ir[c] = top / n
			sum += ir[c]
			k++
		}
	}
	if k == 0 {
		return ir, 0
	}
	return ir, sum / float64(k)
}

// ROSClones runs ML-ROS: it returns the indices 0..n-1 followed by the cloned image
// indices, adding round(n·percent/100) clones unless no label stays above MeanIR.
func ROSClones(labels [][]int8, percent float64, seed uint64) []int {
	n := len(labels)
	out := make([]int, n, n+int(math.Round(float64(n)*percent/100)))
	for i := range out {
		out[i] = i
	}
	toClone := int(math.Round(float64(n) * percent / 100))
	byL := imagesByLabel(labels)
	counts := labelCounts(labels)
	ir, meanIR := irOf(counts)
	var bag []int
	for c := range byL {
		if counts[c] > 0 && ir[c] > meanIR {
			bag = append(bag, c)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x5a17e5))
	top := slices.Max(append([]float64{0}, counts...))
	for toClone > 0 && len(bag) > 0 {
		var keep []int
		for _, c := range bag {
			if toClone == 0 {
				keep = append(keep, c)
				continue
			}
			img := byL[c][rng.IntN(len(byL[c]))]
			out = append(out, img)
			toClone--
			for l, v := range labels[img] {
				if v == 1 {
					counts[l]++
				}
			}
			top = slices.Max(counts)
			if top/counts[c] > meanIR {
				keep = append(keep, c)
			}
		}
		bag = keep
		if len(bag) == 0 && toClone > 0 {
			// Every minority label reached MeanIR before the set grew enough:
			// recompute MeanIR on the grown set and continue with the labels above it
			// (none when the labels are balanced: then stop).
			ir, meanIR = irOf(counts)
			for c := range byL {
				if counts[c] > 0 && ir[c] > meanIR {
					bag = append(bag, c)
				}
			}
		}
	}
	return out
}
