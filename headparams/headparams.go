// Package headparams holds a trained classification head as plain data: the linear
// head and the one-hidden-layer MLP (ReLU) that package head trains, with their pure-Go
// forward pass ([Params.Logits]). It needs no GoMLX, so loading a model and predicting
// (packages bundle and model) links no training code.
//
// Layout: weights are row-major [in][out]. For the linear head W1 is [In][Out] and B1
// [Out]; for the MLP W1 is [In][Hidden], B1 [Hidden], W2 [Hidden][Out], B2 [Out].
// When Mean and Std are set, features are standardised first: (x - Mean) / Std.
package headparams

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Head kinds.
const (
	Linear = "linear"
	MLP    = "mlp"
)

// Params is a trained (or initialised) head. It is plain data: marshal it with
// encoding/json to store it.
type Params struct {
	Kind   string `json:"kind"` // "linear" or "mlp"
	In     int    `json:"in"`
	Hidden int    `json:"hidden,omitempty"` // mlp only
	Out    int    `json:"out"`
	// Mean and Std (len In) standardise the features before the first layer; both
	// empty means no standardisation.
	Mean []float32 `json:"mean,omitempty"`
	Std  []float32 `json:"std,omitempty"`
	W1   []float32 `json:"w1"`
	B1   []float32 `json:"b1"`
	W2   []float32 `json:"w2,omitempty"`
	B2   []float32 `json:"b2,omitempty"`
}

// New returns a freshly initialised head: weights uniform in ±1/sqrt(fan_in) (the
// PyTorch nn.Linear default), biases zero, drawn from a generator seeded with seed.
// hidden is ignored for the linear head.
func New(kind string, in, hidden, out int, seed uint64) (*Params, error) {
	if in <= 0 || out <= 0 {
		return nil, fmt.Errorf("head: input dim %d and classes %d must be positive", in, out)
	}
	rng := rand.New(rand.NewPCG(seed, 0x6865616400000001))
	uniform := func(n, fanIn int) []float32 {
		b := 1 / math.Sqrt(float64(fanIn))
		w := make([]float32, n)
		for i := range w {
			w[i] = float32((rng.Float64()*2 - 1) * b)
		}
		return w
	}
	switch kind {
	case Linear:
		return &Params{Kind: kind, In: in, Out: out, W1: uniform(in*out, in), B1: make([]float32, out)}, nil
	case MLP:
		if hidden <= 0 {
			return nil, fmt.Errorf("head: mlp hidden width %d must be positive", hidden)
		}
		return &Params{Kind: kind, In: in, Hidden: hidden, Out: out,
			W1: uniform(in*hidden, in), B1: make([]float32, hidden),
			W2: uniform(hidden*out, hidden), B2: make([]float32, out)}, nil
	}
	return nil, fmt.Errorf("head: unknown head %q (want linear or mlp)", kind)
}

// Validate checks that the sizes are consistent and the values finite.
func (p *Params) Validate() error {
	if p == nil {
		return errors.New("head: no parameters")
	}
	if p.In <= 0 || p.Out <= 0 {
		return fmt.Errorf("head: in=%d out=%d must be positive", p.In, p.Out)
	}
	const maxDim = 1 << 20 // keeps products of sizes far from overflow
	if p.In > maxDim || p.Out > maxDim || p.Hidden > maxDim || p.Hidden < 0 {
		return fmt.Errorf("head: sizes in=%d hidden=%d out=%d out of range (max %d)", p.In, p.Hidden, p.Out, maxDim)
	}
	type field struct {
		name string
		v    []float32
		n    int
	}
	var fs []field
	switch p.Kind {
	case Linear:
		fs = []field{{"w1", p.W1, p.In * p.Out}, {"b1", p.B1, p.Out}}
		if len(p.W2) != 0 || len(p.B2) != 0 {
			return errors.New("head: linear head has w2/b2")
		}
	case MLP:
		if p.Hidden <= 0 {
			return fmt.Errorf("head: mlp hidden=%d must be positive", p.Hidden)
		}
		fs = []field{{"w1", p.W1, p.In * p.Hidden}, {"b1", p.B1, p.Hidden}, {"w2", p.W2, p.Hidden * p.Out}, {"b2", p.B2, p.Out}}
	default:
		return fmt.Errorf("head: unknown head %q (want linear or mlp)", p.Kind)
	}
	if len(p.Mean) != 0 || len(p.Std) != 0 {
		fs = append(fs, field{"mean", p.Mean, p.In}, field{"std", p.Std, p.In})
		for i, s := range p.Std {
			if !(s > 0) {
				return fmt.Errorf("head: std[%d] = %v, want > 0", i, s)
			}
		}
	}
	for _, f := range fs {
		if len(f.v) != f.n {
			return fmt.Errorf("head: %s has %d values, want %d", f.name, len(f.v), f.n)
		}
		for i, x := range f.v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("head: %s[%d] = %v is not finite", f.name, i, x)
			}
		}
	}
	return nil
}

// Clone returns a deep copy.
func (p *Params) Clone() *Params {
	c := *p
	for _, s := range []*[]float32{&c.Mean, &c.Std, &c.W1, &c.B1, &c.W2, &c.B2} {
		if *s != nil {
			*s = append([]float32(nil), (*s)...)
		}
	}
	return &c
}

// Weights returns the trainable tensors in graph order (W1, B1[, W2, B2]) with their
// dimensions; the slices alias p.
func (p *Params) Weights() (w [][]float32, dims [][]int) {
	if p.Kind == MLP {
		return [][]float32{p.W1, p.B1, p.W2, p.B2}, [][]int{{p.In, p.Hidden}, {p.Hidden}, {p.Hidden, p.Out}, {p.Out}}
	}
	return [][]float32{p.W1, p.B1}, [][]int{{p.In, p.Out}, {p.Out}}
}

// IsBias reports whether the i-th weight of [Params.Weights] is a bias (biases get
// no weight decay).
func IsBias(i int) bool { return i%2 == 1 }

// Standardize returns (x - Mean) / Std for n rows, or x itself when the head has no
// standardisation.
func (p *Params) Standardize(features []float32, n int) []float32 {
	if len(p.Mean) == 0 {
		return features
	}
	out := make([]float32, n*p.In)
	for i := 0; i < n; i++ {
		row := features[i*p.In : (i+1)*p.In]
		dst := out[i*p.In : (i+1)*p.In]
		for k, x := range row {
			dst[k] = (x - p.Mean[k]) / p.Std[k]
		}
	}
	return out
}

// Forward returns the logits [n][Out] (row-major) of n feature rows of length In,
// or an error when the sizes do not match.
func (p *Params) Forward(features []float32, n int) ([]float32, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if n < 0 || len(features) != n*p.In {
		return nil, fmt.Errorf("head: got %d feature values for %d rows of %d", len(features), n, p.In)
	}
	return p.Logits(features, n), nil
}

// Logits is the pure-Go forward pass: logits [n][Out] (row-major) of n feature rows
// of length In. It panics when len(features) != n*In or the head is malformed; use
// [Params.Forward] to get an error instead.
func (p *Params) Logits(features []float32, n int) []float32 {
	if len(features) != n*p.In {
		panic(fmt.Sprintf("head: Logits got %d feature values for %d rows of %d", len(features), n, p.In))
	}
	x := p.Standardize(features, n)
	if p.Kind == MLP {
		h := dense(x, n, p.In, p.W1, p.B1, p.Hidden)
		for i, v := range h {
			if v < 0 {
				h[i] = 0
			}
		}
		return dense(h, n, p.Hidden, p.W2, p.B2, p.Out)
	}
	return dense(x, n, p.In, p.W1, p.B1, p.Out)
}

// Scores returns sigmoid(Logits): per-label probabilities.
func (p *Params) Scores(features []float32, n int) []float32 {
	l := p.Logits(features, n)
	for i, v := range l {
		l[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
	return l
}

// dense computes x[n][in] · w[in][out] + b, accumulating in float32 row by row.
func dense(x []float32, n, in int, w, b []float32, out int) []float32 {
	y := make([]float32, n*out)
	for i := 0; i < n; i++ {
		yr := y[i*out : (i+1)*out]
		copy(yr, b)
		xr := x[i*in : (i+1)*in]
		for k, a := range xr {
			if a == 0 {
				continue
			}
			wr := w[k*out : (k+1)*out]
			for j, wv := range wr {
				yr[j] += a * wv
			}
		}
	}
	return y
}
