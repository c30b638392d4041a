package headparams

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLinearizeAt: the affine map is exact at the point (its logits are the head's), is
// the head itself for the linear kind, and for the MLP matches the head's change along
// a direction small enough to keep every hidden unit on or off.
func TestLinearizeAt(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, kind := range []string{Linear, MLP} {
		p, err := New(kind, 12, 16, 3, 9)
		if err != nil {
			t.Fatal(err)
		}
		p.Mean, p.Std = make([]float32, 12), make([]float32, 12)
		for k := range p.Mean {
			p.Mean[k], p.Std[k] = float32(r.NormFloat64()), float32(0.5+r.Float64())
		}
		x := make([]float32, 12)
		for k := range x {
			x[k] = float32(r.NormFloat64())
		}
		w, b, err := p.LinearizeAt(x)
		if err != nil {
			t.Fatal(err)
		}
		affine := func(y []float32) []float32 {
			o := make([]float32, 3)
			for j := range o {
				o[j] = b[j]
				for k, v := range y {
					o[j] += w[j*12+k] * v
				}
			}
			return o
		}
		near := func(got, want []float32, tol float64, what string) {
			t.Helper()
			for j := range want {
				if d := math.Abs(float64(got[j] - want[j])); d > tol*math.Max(1, math.Abs(float64(want[j]))) {
					t.Fatalf("%s %s: label %d: %v, head %v", kind, what, j, got[j], want[j])
				}
			}
		}
		near(affine(x), p.Logits(x, 1), 1e-5, "at x")
		step := 1e-3
		if kind == Linear {
			step = 3 // affine everywhere
		}
		y := make([]float32, 12)
		for k := range y {
			y[k] = x[k] + float32(step*r.NormFloat64())
		}
		near(affine(y), p.Logits(y, 1), 1e-4, "near x")
	}
	p, _ := New(Linear, 4, 0, 2, 1)
	if _, _, err := p.LinearizeAt(make([]float32, 3)); err == nil {
		t.Fatal("LinearizeAt with a short vector: no error")
	}
}
