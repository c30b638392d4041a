package pipeline

import (
	"math"
	"testing"

	"github.com/multilabel/multilabel/headparams"
)

// Folding temperatures into the last layer divides each output's logit by its T.
func TestScaleHead(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{headparams.Linear, headparams.MLP} {
		h, err := headparams.New(kind, 4, 3, 2, 7)
		if err != nil {
			t.Fatal(err)
		}
		for j := range h.B1 {
			h.B1[j] = 0.3
		}
		if kind == headparams.MLP {
			h.B2[0], h.B2[1] = 0.5, -0.2
		}
		x := []float32{1, -2, 0.5, 3, 0, 1, 1, -1}
		before := h.Logits(x, 2)
		scaleHead(h, []float64{1 / 2.0, 1 / 0.5}) // temperatures 2 and 0.5
		after := h.Logits(x, 2)
		for i := range before {
			want := float64(before[i]) / []float64{2, 0.5}[i%2]
			if math.Abs(float64(after[i])-want) > 1e-5 {
				t.Errorf("%s: logit %d = %v, want %v", kind, i, after[i], want)
			}
		}
	}
}

// Folding a Platt map into the last layer makes each output's logit a·z + b.
func TestAffineHead(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{headparams.Linear, headparams.MLP} {
		h, err := headparams.New(kind, 4, 3, 2, 7)
		if err != nil {
			t.Fatal(err)
		}
		x := []float32{1, -2, 0.5, 3, 0, 1, 1, -1}
		before := h.Logits(x, 2)
		a, b := []float64{2, 0.5}, []float64{-1, 0.25}
		affineHead(h, a, b)
		after := h.Logits(x, 2)
		flat := affineLogits(before, 2, a, b)
		for i := range before {
			want := a[i%2]*float64(before[i]) + b[i%2]
			if math.Abs(float64(after[i])-want) > 1e-5 || math.Abs(float64(flat[i])-want) > 1e-5 {
				t.Errorf("%s: logit %d = %v (head), %v (logits), want %v", kind, i, after[i], flat[i], want)
			}
		}
	}
}
