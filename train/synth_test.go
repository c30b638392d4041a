package train

import (
	"math/rand/v2"
)

// synthetic returns n rows of dim features and labels from a random linear teacher:
// label j is positive when w_j·x + b_j > 0, with per-class biases giving positive rates
// rates[j]; unknownFrac of the labels are set to -1; noise flips labels with that probability.
func synthetic(n, dim int, rates []float64, unknownFrac, noise float64, seed uint64) ([]float32, [][]int8) {
	rng := rand.New(rand.NewPCG(seed, 77))
	c := len(rates)
	w := make([][]float64, c)
	for j := range w {
		w[j] = make([]float64, dim)
		for k := range w[j] {
			w[j][k] = rng.NormFloat64()
		}
	}
	x := make([]float32, n*dim)
	for i := range x {
		x[i] = float32(rng.NormFloat64()*2 + 1)
	}
	scores := make([][]float64, c)
	for j := range scores {
		scores[j] = make([]float64, n)
		for i := 0; i < n; i++ {
			s := 0.0
			for k := 0; k < dim; k++ {
				s += w[j][k] * (float64(x[i*dim+k]) - 1) / 2
			}
			scores[j][i] = s
		}
	}
	y := make([][]int8, n)
	for i := range y {
		y[i] = make([]int8, c)
	}
	for j := range scores {
		// threshold at the (1-rate) quantile
		sorted := append([]float64(nil), scores[j]...)
		sortFloats(sorted)
		thr := sorted[int(float64(n)*(1-rates[j]))]
		for i := 0; i < n; i++ {
			if scores[j][i] >= thr {
				y[i][j] = 1
			}
			if rng.Float64() < noise {
				y[i][j] = 1 - y[i][j]
			}
			if rng.Float64() < unknownFrac {
				y[i][j] = -1
			}
		}
	}
	return x, y
}

func sortFloats(v []float64) {
	for i := 1; i < len(v); i++ {
		for k := i; k > 0 && v[k] < v[k-1]; k-- {
			v[k], v[k-1] = v[k-1], v[k]
		}
	}
}
