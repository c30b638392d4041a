// Package benchdata makes the synthetic cached-feature set that the head-training
// benchmarks share (train's Go benchmarks, finetune.BenchTrain and the PyTorch peer
// scripts/bench_head.py), so every row measures the same work.
package benchdata

import "math/rand/v2"

// Heads returns 1,200 × 512 standard-normal features (row-major) and 5 labels, each
// positive with probability 0.3, from a fixed seed.
func Heads() ([]float32, [][]int8) {
	rng := rand.New(rand.NewPCG(1, 2))
	n, dim, c := 1200, 512, 5
	x := make([]float32, n*dim)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([][]int8, n)
	for i := range y {
		y[i] = make([]int8, c)
		for j := range y[i] {
			if rng.Float64() < 0.3 {
				y[i][j] = 1
			}
		}
	}
	return x, y
}
