package model

import (
	"math/rand/v2"
	"testing"

	"github.com/multilabel/multilabel/imageio"
)

// BenchmarkOverlay draws and encodes one 224×224 overlay of a 13×13 map.
func BenchmarkOverlay(b *testing.B) {
	spec := imageio.ImageNetSpec()
	rng := rand.New(rand.NewPCG(3, 4))
	tensor := make([]float32, spec.TensorLen())
	for i := range tensor {
		tensor[i] = float32(rng.NormFloat64())
	}
	vals := make([]float32, 169)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64())
	}
	b.ReportAllocs()
	for range b.N {
		if _, err := overlay(spec, tensor, vals, 13, 13); err != nil {
			b.Fatal(err)
		}
	}
}
