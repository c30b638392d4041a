package loss

import (
	"errors"
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph"
)

// ClassCounts returns, per class, the known positives and the images where the class
// is known (label 1 or 0; -1 is unknown) of labels: the class statistics of the "db" loss.
func ClassCounts(labels [][]int8, numClasses int) (pos, known []float32) {
	pos = make([]float32, numClasses)
	known = make([]float32, numClasses)
	for _, row := range labels {
		for j := 0; j < numClasses && j < len(row); j++ {
			switch row[j] {
			case 1:
				pos[j]++
				known[j]++
			case 0:
				known[j]++
			}
		}
	}
	return pos, known
}

func (c Config) validateDB(numClasses int) error {
	switch {
	case c.Gamma < 0:
		return fmt.Errorf("loss: db gamma is %v, want >= 0", c.Gamma)
	case !(c.DBLambda > 0):
		return fmt.Errorf("loss: db lambda is %v, want > 0", c.DBLambda)
	case c.DBAlpha < 0:
		return fmt.Errorf("loss: db alpha is %v, want >= 0", c.DBAlpha)
	case (c.ClassCounts == nil) != (c.ClassKnown == nil):
		return errors.New("loss: db needs both class_counts and class_known (or neither, to compute them)")
	case c.ClassCounts != nil && (len(c.ClassCounts) != numClasses || len(c.ClassKnown) != numClasses):
		return fmt.Errorf("loss: db class statistics have %d/%d values, want one per class (%d)", len(c.ClassCounts), len(c.ClassKnown), numClasses)
	}
	for i := range c.ClassCounts {
		n, k := float64(c.ClassCounts[i]), float64(c.ClassKnown[i])
		if !(n >= 0) || !(k >= n) || math.IsInf(k, 0) {
			return fmt.Errorf("loss: db class %d has %v positives of %v known images, want 0 <= positives <= known, finite", i, n, k)
		}
	}
	return nil
}

// DBTables returns the per-class constants of the "db" loss: 1/n_i (n_i clamped to at
// least 1) and the bias ν_i = κ·(−log(1/p_i − 1)), p_i = n_i/known_i clamped to [1e-4, 1−1e-4].
func DBTables(cfg Config) (invN, nu []float32) {
	invN = make([]float32, len(cfg.ClassCounts))
	nu = make([]float32, len(cfg.ClassCounts))
	for i, n := range cfg.ClassCounts {
		invN[i] = float32(1 / math.Max(float64(n), 1))
		p := 0.5
		if k := float64(cfg.ClassKnown[i]); k > 0 {
			p = float64(n) / k
		}
		p = min(max(p, 1e-4), 1-1e-4)
		nu[i] = float32(cfg.DBKappa * -math.Log(1/p-1))
	}
	return invN, nu
}

// distributionBalanced is the per-entry "db" loss (see DB).
func distributionBalanced(cfg Config, logits, y *Node) *Node {
	if cfg.ClassCounts == nil {
		panic(errors.New("loss: db loss needs the class statistics (ClassCounts, ClassKnown)"))
	}
	g := logits.Graph()
	dt := logits.DType()
	invNv, nuv := DBTables(cfg)
	invN := ConvertDType(ExpandAxes(Const(g, invNv), 0), dt) // [1, C]
	nu := ConvertDType(ExpandAxes(Const(g, nuv), 0), dt)

	// Re-balancing weight: r = (1/n_i) / Σ_j y_j/n_j; r̂ = α + σ(β(r − μ)); 1 without positives.
	pi := ReduceAndKeep(Mul(y, invN), ReduceSum, -1) // [B, 1]
	has := GreaterThan(pi, ZerosLike(pi))
	safe := Where(has, pi, OnesLike(pi))
	r := Div(invN, safe)
	rhat := AddScalar(Sigmoid(MulScalar(AddScalar(r, -cfg.DBMu), cfg.DBBeta)), cfg.DBAlpha)
	rhat = Where(BroadcastToShape(has, rhat.Shape()), rhat, OnesLike(rhat))
	rhat = StopGradient(rhat)

	// Negative-tolerant regularisation on the shifted logit z' = z − ν.
	z := Sub(logits, nu)
	lz := MulScalar(z, cfg.DBLambda)
	pos := Mul(powGamma(OneMinus(Sigmoid(z)), cfg.Gamma), softplus(Neg(z)))
	neg := MulScalar(Mul(powGamma(Sigmoid(lz), cfg.Gamma), softplus(lz)), 1/cfg.DBLambda)
	return Mul(rhat, Add(Mul(y, pos), Mul(OneMinus(y), neg)))
}
