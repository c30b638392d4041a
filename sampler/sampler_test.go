package sampler

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/multilabel/multilabel/errkind"
)

// longTail is a seeded set of n images over 4 labels with shares ≈ 60%, 20%, 5%, 1%,
// plus a few unknown entries.
func longTail(n int) [][]int8 {
	rng := rand.New(rand.NewPCG(7, 7))
	share := []float64{0.6, 0.2, 0.05, 0.01}
	out := make([][]int8, n)
	for i := range out {
		out[i] = make([]int8, len(share))
		for c, p := range share {
			if rng.Float64() < p {
				out[i][c] = 1
			}
			if rng.Float64() < 0.02 {
				out[i][c] = -1
			}
		}
	}
	return out
}

func TestUniformIsThePermutation(t *testing.T) {
	t.Parallel()
	s, err := New(Config{}, longTail(50), 3)
	if err != nil {
		t.Fatal(err)
	}
	for e := uint64(1); e < 4; e++ {
		if got, want := s.Epoch(e), rand.New(rand.NewPCG(3, e)).Perm(50); !slices.Equal(got, want) {
			t.Fatalf("epoch %d: %v, want the trainers' permutation %v", e, got, want)
		}
	}
}

func TestRepeatFactorsFormula(t *testing.T) {
	t.Parallel()
	// 10 images: label 0 on all, label 1 on images 0,1 (f=0.2), label 2 on image 0 with
	// one unknown entry (f = 1/9), nothing on image 9 except label 0.
	labels := make([][]int8, 10)
	for i := range labels {
		labels[i] = []int8{1, 0, 0}
	}
	labels[0][1], labels[1][1] = 1, 1
	labels[0][2], labels[5][2] = 1, -1
	labels[9][0] = 0
	tt := 0.5
	r := RepeatFactors(labels, tt)
	want := make([]float64, 10)
	for i := range want {
		want[i] = 1
	}
	want[0] = math.Max(math.Sqrt(tt/0.2), math.Sqrt(tt/(1.0/9)))
	want[1] = math.Sqrt(tt / 0.2)
	for i := range want {
		if math.Abs(r[i]-want[i]) > 1e-12 {
			t.Fatalf("RepeatFactors = %v, want %v", r, want)
		}
	}
	// Stochastic rounding: over many epochs the mean count per image is its factor.
	s, err := New(Config{Kind: RepeatFactor, RepeatThreshold: tt}, labels, 1)
	if err != nil {
		t.Fatal(err)
	}
	const epochs = 4000
	got := make([]float64, 10)
	for e := uint64(0); e < epochs; e++ {
		order := s.Epoch(e)
		for _, i := range order {
			got[i]++
		}
	}
	for i := range got {
		if m := got[i] / epochs; math.Abs(m-want[i]) > 0.03 {
			t.Errorf("image %d: mean repeats %.3f, want factor %.3f", i, m, want[i])
		}
	}
	if !slices.Equal(s.Epoch(5), s.Epoch(5)) {
		t.Error("an epoch's order is not deterministic")
	}
}

func TestClassAwareDrawsEveryLabel(t *testing.T) {
	t.Parallel()
	labels := longTail(400)
	s, err := New(Config{Kind: ClassAware}, labels, 2)
	if err != nil {
		t.Fatal(err)
	}
	order := s.Epoch(1)
	if len(order) != len(labels) {
		t.Fatalf("epoch has %d draws, want %d", len(order), len(labels))
	}
	hits := make([]int, 4)
	for _, i := range order {
		for c, v := range labels[i] {
			if v == 1 {
				hits[c]++
			}
		}
	}
	// Each label is visited ~n/4 times; the rarest label (≈4 images) gets its images
	// drawn repeatedly, far above its natural 1%.
	for c, h := range hits {
		if h < len(labels)/4-2 {
			t.Errorf("label %d drawn in %d images, want ≥ %d (one visit per cycle)", c, h, len(labels)/4-2)
		}
	}
	for _, i := range order {
		if !slices.Contains(labels[i], 1) {
			t.Fatalf("image %d without a positive label was drawn", i)
		}
	}
}

func TestMLROS(t *testing.T) {
	t.Parallel()
	labels := longTail(400)
	ir, meanIR := IRLbl(labels)
	s, err := New(Config{Kind: MLROS}, labels, 4)
	if err != nil {
		t.Fatal(err)
	}
	order := s.Epoch(1)
	if len(order) != 500 {
		t.Fatalf("grown set has %d images, want 400 + 25%% = 500", len(order))
	}
	count := make([]int, 400)
	for _, i := range order {
		count[i]++
	}
	for i, k := range count {
		if k == 0 {
			t.Fatalf("image %d is missing from the grown set", i)
		}
		if k == 1 {
			continue
		}
		minority := false
		for c, v := range labels[i] {
			if v == 1 && ir[c] > meanIR {
				minority = true
			}
		}
		if !minority {
			t.Errorf("image %d (labels %v) cloned but holds no label with IRLbl > MeanIR %.2f (IRLbl %v)", i, labels[i], meanIR, ir)
		}
	}
	_, after := irOf(countsOf(labels, order))
	if !(after < meanIR) {
		t.Errorf("MeanIR %.2f after ML-ROS, want below %.2f", after, meanIR)
	}
}

func countsOf(labels [][]int8, idx []int) []float64 {
	c := make([]float64, len(labels[0]))
	for _, i := range idx {
		for l, v := range labels[i] {
			if v == 1 {
				c[l]++
			}
		}
	}
	return c
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{{Kind: "oversample"}, {RepeatThreshold: -1}, {ROSPercent: math.NaN()}, {RepeatThreshold: 2}} {
		if err := c.Validate(); !errkind.IsBadInput(err) {
			t.Errorf("Validate(%+v) = %v, want a bad-input error", c, err)
		}
	}
	for _, k := range Kinds {
		if _, err := New(Config{Kind: k}, [][]int8{{0, 0}, {0, -1}}, 1); err != nil {
			t.Errorf("%s on a set without positives: %v", k, err)
		}
	}
}
