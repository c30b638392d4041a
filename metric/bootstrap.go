package metric

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// BootstrapMAP returns a percentile bootstrap confidence interval of mAP at the given
// level (e.g. 0.95): the images are resampled with replacement reps times, mAP is
// computed on each resample (over the classes that have a positive in it), and the
// interval is formed by the (1−level)/2 and (1+level)/2 quantiles (linear
// interpolation, like numpy.percentile). Resample b draws from a PCG generator seeded
// with (seed, b), so the interval depends only on the data, reps and seed. Each
// resample walks every class once (about 10 ms of CPU at 40,000 images × 80 labels;
// resamples run in parallel).
func BootstrapMAP(scores [][]float32, truth [][]int8, reps int, seed uint64, level float64) (lo, hi float64, err error) {
	if len(scores) != len(truth) || len(scores) == 0 {
		return 0, 0, fmt.Errorf("%w: %d score rows, %d truth rows", ErrShape, len(scores), len(truth))
	}
	if reps <= 0 || !(level > 0 && level < 1) {
		return 0, 0, fmt.Errorf("%w: bootstrap reps %d, level %v", ErrValue, reps, level)
	}
	nl := len(truth[0])
	for i := range truth {
		if len(truth[i]) != nl || len(scores[i]) != nl {
			return 0, 0, fmt.Errorf("%w: row %d", ErrShape, i)
		}
	}
	lo, hi = bootstrapMAP(sortAll(scores, truth, nl), len(scores), reps, seed, level)
	return lo, hi, nil
}

func bootstrapMAP(orders []order, n, reps int, seed uint64, level float64) (lo, hi float64) {
	maps := make([]float64, reps)
	parallel(reps, func(a, b int) {
		w := make([]int32, n)
		aps := make([]float64, len(orders))
		ok := make([]bool, len(orders))
		for r := a; r < b; r++ {
			clear(w)
			rng := rand.New(rand.NewPCG(seed, uint64(r)))
			for range n {
				w[rng.IntN(n)]++
			}
			for j := range orders {
				aps[j], ok[j] = orders[j].apWeighted(w)
			}
			maps[r] = meanOK(aps, ok)
		}
	})
	// Resamples where no class has a positive have no mAP; leave them out.
	maps = slices.DeleteFunc(maps, math.IsNaN)
	if len(maps) == 0 {
		return math.NaN(), math.NaN()
	}
	slices.Sort(maps)
	return quantile(maps, (1-level)/2), quantile(maps, (1+level)/2)
}

// quantile of sorted v with linear interpolation between order statistics.
func quantile(v []float64, q float64) float64 {
	p := q * float64(len(v)-1)
	i := int(math.Floor(p))
	if i >= len(v)-1 {
		return v[len(v)-1]
	}
	f := p - float64(i)
	return v[i] + f*(v[i+1]-v[i])
}
