// Package loss builds the multi-label classification losses as GoMLX graph
// functions: binary cross-entropy (BCE), BCE with per-class positive weights,
// focal loss, and the asymmetric loss (ASL) of Ridnik et al. 2021.
//
// Every loss works on logits [batch, classes], targets in {0,1} and a known-mask
// in {0,1} of the same shape: entries whose label is unknown (-1 in the dataset)
// have mask 0 and add nothing to the loss nor to its gradient.
//
// Normalisation: [Masked] returns the sum of the per-entry losses over the known
// entries divided by the number of known entries (a mean over known entries; 0
// when there are none). Because padded rows can be given mask 0, a batch padded to a
// fixed size gives exactly the loss of the unpadded batch.
//
// Per-entry definitions, with p = sigmoid(x) and y the target:
//
//   - bce:      -[y log p + (1-y) log(1-p)]  (computed stably from the logit)
//   - weighted: -[w_c y log p + (1-y) log(1-p)]  with a positive weight w_c per class
//   - focal:    α_t (1-p_t)^γ · bce, with p_t = p if y=1 else 1-p, α_t = α if y=1 else 1-α
//     (α < 0 disables the α factor), as in Lin et al. 2017
//   - asl:      -[y (1-p)^γ+ log(p) + (1-y) p_m^γ− log(1-p_m)], p_m = max(p-m, 0), with the
//     log arguments clamped below at ε, following the math of the paper's reference code.
//   - db:       the distribution-balanced loss of Wu et al. 2020 (ECCV), from the paper's
//     formulas, see [DB].
//
// All losses are also tested against PyTorch (values and gradients), see testdata.
package loss

import (
	"errors"
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph"
)

// Loss kinds accepted by [Config.Kind].
const (
	BCE      = "bce"
	Weighted = "weighted"
	Focal    = "focal"
	ASL      = "asl"
	// DB is the distribution-balanced loss (Wu et al., ECCV 2020), written from the
	// paper. For image k and class i, with n_i the class's known positives in the
	// training set:
	//
	//   - re-balancing weight: r = P^C_i / P^I(k) = (1/n_i) / Σ_{j positive in k} (1/n_j)
	//     (class-level over instance-level sampling frequency; the 1/C factors cancel),
	//     smoothed as r̂ = α + σ(β(r − μ)); an image without a known positive has r̂ = 1;
	//   - negative-tolerant regularisation with the class-specific bias ν_i = κ b̂_i,
	//     b̂_i = −log(1/p_i − 1), p_i = n_i / (images where i is known), clamped to
	//     [1e-4, 1−1e-4]; with z' = z − ν_i:
	//     positives (1−σ(z'))^γ log(1+e^{−z'}), negatives (1/λ) σ(λz')^γ log(1+e^{λz'})
	//     (the focal factor γ applied to each term's own probability; γ = 0: none);
	//   - per entry r̂ times that term; normalised like every loss (mean over known entries).
	//
	// Defaults: α=0.1, β=10, μ=0.2, κ=0.05, λ=2, γ=2. It needs ClassCounts and
	// ClassKnown (filled from the training labels by the trainers, see [ClassCounts]).
	DB = "db"
)

// Kinds lists the accepted loss names.
var Kinds = []string{BCE, Weighted, Focal, ASL, DB}

// Config selects a loss and its hyper-parameters. Use [Defaults] to get the usual
// values for a kind; zero values are taken literally (γ=0 means no focusing).
type Config struct {
	// Kind is one of "bce", "weighted", "focal", "asl".
	Kind string `json:"kind"`
	// PosWeight holds the per-class positive weights of the "weighted" loss. When nil,
	// the trainer computes them from the training labels with [PosWeights].
	PosWeight []float32 `json:"pos_weight,omitempty"`
	// MaxPosWeight clips weights computed from label frequencies (neg/pos) to [1, MaxPosWeight].
	MaxPosWeight float64 `json:"max_pos_weight,omitempty"`
	// Gamma and Alpha are the focal loss γ and α (α < 0: no α weighting).
	Gamma float64 `json:"gamma,omitempty"`
	Alpha float64 `json:"alpha,omitempty"`
	// GammaPos, GammaNeg and Clip are the asymmetric loss γ+, γ− and probability margin m.
	GammaPos float64 `json:"gamma_pos,omitempty"`
	GammaNeg float64 `json:"gamma_neg,omitempty"`
	Clip     float64 `json:"clip,omitempty"`
	// Eps is the lower clamp of the probabilities inside the ASL logarithms.
	Eps float64 `json:"eps,omitempty"`
	// DetachFocal stops the gradient through the ASL focusing weights (the reference
	// code's disable_torch_grad_focal_loss); false keeps the full gradient.
	DetachFocal bool `json:"detach_focal,omitempty"`
	// DBAlpha, DBBeta and DBMu are the distribution-balanced re-balancing α, β, μ;
	// DBKappa and DBLambda its negative-tolerant κ and λ (its focal γ is Gamma).
	DBAlpha  float64 `json:"db_alpha,omitempty"`
	DBBeta   float64 `json:"db_beta,omitempty"`
	DBMu     float64 `json:"db_mu,omitempty"`
	DBKappa  float64 `json:"db_kappa,omitempty"`
	DBLambda float64 `json:"db_lambda,omitempty"`
	// ClassCounts and ClassKnown are, per class, the training set's known positives
	// and the images where the class is known (the "db" loss's class statistics).
	// When nil, the trainer computes them from the training labels with [ClassCounts].
	ClassCounts []float32 `json:"class_counts,omitempty"`
	ClassKnown  []float32 `json:"class_known,omitempty"`
}

// Defaults returns the usual hyper-parameters for a loss kind: weighted: weights from
// frequencies clipped at 10; focal: γ=2, α=0.25; asl: γ+=0, γ−=4, m=0.05, ε=1e-8;
// db: α=0.1, β=10, μ=0.2, κ=0.05, λ=2, γ=2.
// An unknown kind is returned as is (Validate reports it).
func Defaults(kind string) Config {
	switch kind {
	case Weighted:
		return Config{Kind: kind, MaxPosWeight: 10}
	case Focal:
		return Config{Kind: kind, Gamma: 2, Alpha: 0.25}
	case ASL:
		return Config{Kind: kind, GammaPos: 0, GammaNeg: 4, Clip: 0.05, Eps: 1e-8}
	case DB:
		return Config{Kind: kind, Gamma: 2, DBAlpha: 0.1, DBBeta: 10, DBMu: 0.2, DBKappa: 0.05, DBLambda: 2}
	}
	return Config{Kind: kind}
}

// Validate checks the configuration for a problem with numClasses classes.
func (c Config) Validate(numClasses int) error {
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	for _, f := range []struct {
		name string
		v    float64
	}{{"max_pos_weight", c.MaxPosWeight}, {"gamma", c.Gamma}, {"alpha", c.Alpha}, {"gamma_pos", c.GammaPos},
		{"gamma_neg", c.GammaNeg}, {"clip", c.Clip}, {"eps", c.Eps}, {"db_alpha", c.DBAlpha}, {"db_beta", c.DBBeta},
		{"db_mu", c.DBMu}, {"db_kappa", c.DBKappa}, {"db_lambda", c.DBLambda}} {
		if bad(f.v) {
			return fmt.Errorf("loss: %s is %v, want a finite number", f.name, f.v)
		}
	}
	switch c.Kind {
	case BCE:
	case Weighted:
		if c.PosWeight != nil && len(c.PosWeight) != numClasses {
			return fmt.Errorf("loss: pos_weight has %d values, want one per class (%d)", len(c.PosWeight), numClasses)
		}
		for i, w := range c.PosWeight {
			if !(w > 0) || math.IsInf(float64(w), 0) {
				return fmt.Errorf("loss: pos_weight[%d] is %v, want a positive finite number", i, w)
			}
		}
		if c.PosWeight == nil && c.MaxPosWeight != 0 && c.MaxPosWeight < 1 {
			return fmt.Errorf("loss: max_pos_weight is %v, want >= 1 (or 0 for the default 10)", c.MaxPosWeight)
		}
	case Focal:
		if c.Gamma < 0 {
			return fmt.Errorf("loss: focal gamma is %v, want >= 0", c.Gamma)
		}
		if c.Alpha > 1 {
			return fmt.Errorf("loss: focal alpha is %v, want <= 1 (negative disables it)", c.Alpha)
		}
	case ASL:
		if c.GammaPos < 0 || c.GammaNeg < 0 {
			return fmt.Errorf("loss: asl gammas are %v/%v, want >= 0", c.GammaPos, c.GammaNeg)
		}
		if c.Clip < 0 || c.Clip >= 1 {
			return fmt.Errorf("loss: asl clip margin is %v, want in [0, 1)", c.Clip)
		}
		if c.Eps < 0 || c.Eps >= 0.5 {
			return fmt.Errorf("loss: asl eps is %v, want in [0, 0.5)", c.Eps)
		}
	case DB:
		if err := c.validateDB(numClasses); err != nil {
			return err
		}
	case "":
		return errors.New("loss: no loss kind given (want bce, weighted, focal, asl or db)")
	default:
		return fmt.Errorf("loss: unknown loss %q (want bce, weighted, focal, asl or db)", c.Kind)
	}
	return nil
}

// PosWeights returns per-class positive weights neg/pos computed from labels
// (1 positive, 0 negative, -1 unknown, which is ignored), clipped to [1, maxW]
// (maxW <= 0 means 10). A class without positives gets maxW.
func PosWeights(labels [][]int8, numClasses int, maxW float64) []float32 {
	if maxW <= 0 {
		maxW = 10
	}
	pos := make([]float64, numClasses)
	neg := make([]float64, numClasses)
	for _, row := range labels {
		for j := 0; j < numClasses && j < len(row); j++ {
			switch row[j] {
			case 1:
				pos[j]++
			case 0:
				neg[j]++
			}
		}
	}
	w := make([]float32, numClasses)
	for j := range w {
		r := maxW
		if pos[j] > 0 {
			r = min(max(neg[j]/pos[j], 1), maxW)
		}
		w[j] = float32(r)
	}
	return w
}

// TargetsAndMask flattens labels [n][classes] in {1,0,-1} into row-major targets
// (1 for positives, else 0) and a known-mask (0 for unknown entries).
// Rows shorter than classes are padded as unknown.
func TargetsAndMask(labels [][]int8, classes int) (targets, mask []float32) {
	targets = make([]float32, len(labels)*classes)
	mask = make([]float32, len(labels)*classes)
	for i, row := range labels {
		for j := 0; j < classes && j < len(row); j++ {
			switch row[j] {
			case 1:
				targets[i*classes+j] = 1
				mask[i*classes+j] = 1
			case 0:
				mask[i*classes+j] = 1
			}
		}
	}
	return targets, mask
}

// Elementwise returns the per-entry loss (shape of logits) for cfg, without the mask.
// posWeight ([classes]) is used only by the "weighted" loss and may be nil otherwise.
// It panics (GoMLX graph-building convention) on an invalid configuration; callers
// building graphs under graph.Exec get the panic back as an error.
func Elementwise(cfg Config, logits, targets, posWeight *Node) *Node {
	if err := cfg.Validate(logits.Shape().Dim(-1)); err != nil {
		panic(err)
	}
	y := targets
	negY := OneMinus(y)
	switch cfg.Kind {
	case BCE:
		// -[y log p + (1-y) log(1-p)] = y softplus(-x) + (1-y) softplus(x)
		return Add(Mul(y, softplus(Neg(logits))), Mul(negY, softplus(logits)))
	case Weighted:
		if posWeight == nil {
			panic(errors.New("loss: weighted loss needs per-class positive weights"))
		}
		w := ConvertDType(posWeight, logits.DType())
		if w.Rank() == 1 {
			w = ExpandAxes(w, 0)
		}
		return Add(Mul(Mul(y, w), softplus(Neg(logits))), Mul(negY, softplus(logits)))
	case Focal:
		ce := Add(Mul(y, softplus(Neg(logits))), Mul(negY, softplus(logits)))
		p := Sigmoid(logits)
		// 1-p_t = y(1-p) + (1-y)p
		oneMinusPt := Add(Mul(y, OneMinus(p)), Mul(negY, p))
		l := Mul(powGamma(oneMinusPt, cfg.Gamma), ce)
		if cfg.Alpha >= 0 {
			at := Add(MulScalar(y, cfg.Alpha), MulScalar(negY, 1-cfg.Alpha))
			l = Mul(at, l)
		}
		return l
	case ASL:
		p := Sigmoid(logits)
		pNeg := OneMinus(p)
		if cfg.Clip > 0 {
			pNeg = MinScalar(AddScalar(pNeg, cfg.Clip), 1)
		}
		logPos := Log(MaxScalar(p, cfg.Eps))
		logNeg := Log(MaxScalar(pNeg, cfg.Eps))
		// Focusing weights: positives (1-p)^γ+, negatives (1-pNeg)^γ− = p_m^γ−.
		wPos := powGamma(OneMinus(p), cfg.GammaPos)
		wNeg := powGamma(OneMinus(pNeg), cfg.GammaNeg)
		if cfg.DetachFocal {
			wPos, wNeg = StopGradient(wPos), StopGradient(wNeg)
		}
		return Neg(Add(Mul(Mul(y, wPos), logPos), Mul(Mul(negY, wNeg), logNeg)))
	case DB:
		return distributionBalanced(cfg, logits, y)
	}
	panic(fmt.Errorf("loss: unknown loss %q", cfg.Kind))
}

// Masked returns the scalar loss: the sum of the per-entry losses over known entries
// (mask 1) divided by the number of known entries (0 when none is known).
func Masked(cfg Config, logits, targets, mask, posWeight *Node) *Node {
	m := ConvertDType(mask, logits.DType())
	if cfg.Kind == DB {
		// An image's instance-level frequency counts its known positives only.
		targets = Mul(ConvertDType(targets, m.DType()), m)
	}
	l := Elementwise(cfg, logits, targets, posWeight)
	// Where rather than Mul: an unknown entry must not leak a NaN/Inf into the sum.
	known := GreaterThan(m, ZerosLike(m))
	sum := ReduceAllSum(Where(known, Mul(l, m), ZerosLike(l)))
	count := ReduceAllSum(m)
	return Div(sum, MaxScalar(count, 1))
}

// softplus computes log(1+exp(x)) stably, with the exact gradient sigmoid(x)
// everywhere (including x = 0) and no NaN from the branch not taken.
func softplus(x *Node) *Node {
	zero := ZerosLike(x)
	pos := GreaterThan(x, zero)
	xp := Where(pos, x, zero) // >= 0
	xn := Where(pos, zero, x) // <= 0
	onPos := Add(xp, Log1p(Exp(Neg(xp))))
	onNeg := Log1p(Exp(xn))
	return Where(pos, onPos, onNeg)
}

// powGamma returns base^gamma for base in [0,1] with a finite gradient at base 0:
// γ=0 gives ones, small integer γ uses repeated products, other γ use Pow guarded
// against the zero base.
func powGamma(base *Node, gamma float64) *Node {
	if gamma == 0 {
		return OnesLike(base)
	}
	if gamma == math.Trunc(gamma) && gamma <= 8 {
		r := base
		for i := 1; i < int(gamma); i++ {
			r = Mul(r, base)
		}
		return r
	}
	zero := ZerosLike(base)
	pos := GreaterThan(base, zero)
	safe := Where(pos, base, OnesLike(base))
	return Where(pos, Pow(safe, ConstAs(base, gamma)), zero)
}
