package report

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/calib"
)

// reliabilityInput is an overconfident model (before: σ(3z)) whose calibrated scores
// (after: σ(z)) match the truth's distribution, y ~ Bernoulli(σ(z)).
func reliabilityInput(n int) Reliability {
	rng := rand.New(rand.NewPCG(3, 4))
	labels := []string{"sea", "sun <&>", "unseen"}
	r := Reliability{Labels: labels, Temperatures: []float64{3, 3, 1}, Part: "test"}
	for range n {
		b, a, y := make([]float32, 3), make([]float32, 3), make([]int8, 3)
		for j := range 3 {
			z := rng.NormFloat64() * 2
			a[j] = float32(1 / (1 + math.Exp(-z)))
			b[j] = float32(1 / (1 + math.Exp(-3*z)))
			if rng.Float64() < float64(a[j]) {
				y[j] = 1
			}
			if j == 2 {
				y[j] = -1 // no known entry: ECE undefined
			}
		}
		r.Before, r.After, r.Truth = append(r.Before, b), append(r.After, a), append(r.Truth, y)
	}
	return r
}

func TestReliabilitySection(t *testing.T) {
	t.Parallel()
	r := reliabilityInput(2000)
	sec := ReliabilitySection(r)
	h := sec.HTML
	if sec.Title != "Calibration" || !strings.Contains(h, `data-plot="reliability"`) {
		t.Fatalf("no reliability diagram:\n%.500s", h)
	}
	if n := strings.Count(h, "<polyline"); n != 3 {
		t.Errorf("%d lines, want 3 (diagonal, before, after)", n)
	}
	if !strings.Contains(h, "sun &lt;&amp;&gt;") || strings.Contains(h, "sun <&>") {
		t.Errorf("label not escaped")
	}
	for _, s := range []string{"ECE before", "ECE after", "temperature", "3.000"} {
		if !strings.Contains(h, s) {
			t.Errorf("table lacks %q", s)
		}
	}
	// The per-label figures: the overconfident scores have the larger ECE.
	b, a := calibECE(r.Before, r), calibECE(r.After, r)
	for j := range 2 {
		if !(b[j] > a[j]+0.05) || a[j] > 0.05 {
			t.Errorf("label %d: ECE before %.3f, after %.3f", j, b[j], a[j])
		}
	}
	if !math.IsNaN(b[2]) {
		t.Errorf("label without known entries: ECE %v", b[2])
	}
	if c := strings.Count(h, "<tr>"); c != 4 {
		t.Errorf("%d table rows, want header + 3", c)
	}

	if s := ReliabilitySection(Reliability{Labels: r.Labels}); strings.Contains(s.HTML, "<svg") {
		t.Errorf("no data drew a chart")
	}
	r.Before = nil
	if s := ReliabilitySection(r); strings.Contains(s.HTML, "ECE before") || strings.Count(s.HTML, "<polyline") != 2 {
		t.Errorf("after only: %.300s", s.HTML)
	}
}

func TestReliabilityBins(t *testing.T) {
	t.Parallel()
	probs := [][]float32{{0.05, 0.95}, {0.05, 0.99}, {0.5, 1}}
	truth := [][]int8{{0, 1}, {1, 1}, {-1, 0}}
	conf, freq, count := reliabilityBins(probs, truth, 10)
	want := [][3]float64{{0.05, 0.5, 2}, {0.98, 2.0 / 3, 3}}
	if len(conf) != 2 {
		t.Fatalf("bins %v %v %v", conf, freq, count)
	}
	for k, w := range want {
		if math.Abs(conf[k]-w[0]) > 1e-3 || math.Abs(freq[k]-w[1]) > 1e-9 || count[k] != w[2] {
			t.Errorf("bin %d: %v %v %v, want %v", k, conf[k], freq[k], count[k], w)
		}
	}
}

func calibECE(p [][]float32, r Reliability) []float64 {
	return calib.ECE(p, r.Truth, 15)
}
