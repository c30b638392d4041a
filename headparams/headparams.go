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

	// Channels and Tokens (H·W) are set for heads whose input is the spatial map at
	// the cut (In = Channels·Tokens values a row, channel-major): the attention head,
	// and linear/MLP heads that pool inside the head (Pool).
	Channels int `json:"channels,omitempty"`
	Tokens   int `json:"tokens,omitempty"`
	// Pool, for a linear or MLP head on the spatial map, is its global pooling (avg,
	// max, avgmax or gem); the dense layers then see the pooled vector (Channels wide,
	// 2·Channels for avgmax), and Mean/Std standardise that vector.
	Pool string `json:"pool,omitempty"`
	// GeM holds the learnt GeM exponent p (one value) when Pool is gem.
	GeM []float32 `json:"gem_p,omitempty"`
	// Attn holds the attention head's sizes and weights (Kind attention only). Its
	// Mean/Std (len Channels) standardise each channel of the map.
	Attn *AttnParams `json:"attention,omitempty"`
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
	in := p.In
	if p.Kind != Attention && (p.Pool != "" || p.Channels != 0 || p.Tokens != 0) {
		switch p.Pool {
		case PoolAvg, PoolMax, PoolAvgMax, PoolGeM:
		default:
			return fmt.Errorf("head: unknown pooling %q (want avg, max, avgmax or gem)", p.Pool)
		}
		if p.Channels <= 0 || p.Tokens <= 0 || p.Channels > 1<<20 || p.Tokens > 1<<20 || p.Channels*p.Tokens != p.In {
			return fmt.Errorf("head: pooled head: channels %d × tokens %d must equal in %d", p.Channels, p.Tokens, p.In)
		}
		in = p.width()
	}
	if p.Pool == PoolGeM {
		if len(p.GeM) != 1 || !(p.GeM[0] >= 1e-3 && p.GeM[0] <= 1e3) {
			return fmt.Errorf("head: gem exponent %v, want one value in [0.001, 1000]", p.GeM)
		}
	} else if len(p.GeM) != 0 {
		return errors.New("head: gem exponent without gem pooling")
	}
	const maxDim = 1 << 20 // keeps products of sizes far from overflow
	if p.In > maxDim || p.Out > maxDim || p.Hidden > maxDim || p.Hidden < 0 {
		return fmt.Errorf("head: sizes in=%d hidden=%d out=%d out of range (max %d)", p.In, p.Hidden, p.Out, maxDim)
	}
	if p.Kind == Attention {
		if p.Pool != "" || len(p.GeM) != 0 {
			return errors.New("head: attention head has a pooling")
		}
		if err := p.validateAttention(); err != nil {
			return err
		}
		return p.validateStd(p.Channels)
	}
	if p.Attn != nil {
		return fmt.Errorf("head: %s head has attention weights", p.Kind)
	}
	type field struct {
		name string
		v    []float32
		n    int
	}
	var fs []field
	switch p.Kind {
	case Linear:
		fs = []field{{"w1", p.W1, in * p.Out}, {"b1", p.B1, p.Out}}
		if len(p.W2) != 0 || len(p.B2) != 0 {
			return errors.New("head: linear head has w2/b2")
		}
	case MLP:
		if p.Hidden <= 0 {
			return fmt.Errorf("head: mlp hidden=%d must be positive", p.Hidden)
		}
		fs = []field{{"w1", p.W1, in * p.Hidden}, {"b1", p.B1, p.Hidden}, {"w2", p.W2, p.Hidden * p.Out}, {"b2", p.B2, p.Out}}
	default:
		return fmt.Errorf("head: unknown head %q (want linear, mlp or attention)", p.Kind)
	}
	for _, f := range fs {
		if err := checkField(f.name, f.v, f.n); err != nil {
			return err
		}
	}
	return p.validateStd(in)
}

// validateStd checks Mean and Std (both empty, or both of length in with Std > 0).
func (p *Params) validateStd(in int) error {
	if len(p.Mean) == 0 && len(p.Std) == 0 {
		return nil
	}
	if err := checkField("mean", p.Mean, in); err != nil {
		return err
	}
	if err := checkField("std", p.Std, in); err != nil {
		return err
	}
	for i, s := range p.Std {
		if !(s > 0) {
			return fmt.Errorf("head: std[%d] = %v, want > 0", i, s)
		}
	}
	return nil
}

// Spatial reports whether the head's input is the spatial map (Channels × Tokens).
func (p *Params) Spatial() bool { return p.Kind == Attention || p.Pool != "" }

// width is the length of the vector the dense layers of a linear or MLP head see.
func (p *Params) width() int {
	switch p.Pool {
	case "":
		return p.In
	case PoolAvgMax:
		return 2 * p.Channels
	}
	return p.Channels
}

// Width is the input width of the first dense layer of a linear or MLP head: In, or
// the pooled width of a head that pools the spatial map itself.
func (p *Params) Width() int { return p.width() }

// Clone returns a deep copy.
func (p *Params) Clone() *Params {
	c := *p
	for _, s := range []*[]float32{&c.Mean, &c.Std, &c.W1, &c.B1, &c.W2, &c.B2, &c.GeM} {
		if *s != nil {
			*s = append([]float32(nil), (*s)...)
		}
	}
	if p.Attn != nil {
		a := *p.Attn
		ptrs, _ := a.fields(p.Channels, p.Out)
		for _, s := range ptrs {
			if *s != nil {
				*s = append([]float32(nil), (*s)...)
			}
		}
		c.Attn = &a
	}
	return &c
}

// Weights returns the trainable tensors in graph order (W1, B1[, W2, B2]) with their
// dimensions; the slices alias p.
// For an attention head the list is AttnParams's, in its documented order; a GeM head
// appends the exponent (dims [1]) after the dense layers.
func (p *Params) Weights() (w [][]float32, dims [][]int) {
	if p.Kind == Attention {
		ptrs, ds := p.Attn.fields(p.Channels, p.Out)
		for _, s := range ptrs {
			w = append(w, *s)
		}
		return w, ds
	}
	in := p.width()
	if p.Kind == MLP {
		w, dims = [][]float32{p.W1, p.B1, p.W2, p.B2}, [][]int{{in, p.Hidden}, {p.Hidden}, {p.Hidden, p.Out}, {p.Out}}
	} else {
		w, dims = [][]float32{p.W1, p.B1}, [][]int{{in, p.Out}, {p.Out}}
	}
	if p.Pool == PoolGeM {
		w, dims = append(w, p.GeM), append(dims, []int{1})
	}
	return w, dims
}

// SetWeights replaces the weights by w, in [Params.Weights]'s order and sizes (copied).
func (p *Params) SetWeights(w [][]float32) {
	cp := func(v []float32) []float32 { return append([]float32(nil), v...) }
	if p.Kind == Attention {
		ptrs, _ := p.Attn.fields(p.Channels, p.Out)
		for i, s := range ptrs {
			*s = cp(w[i])
		}
		return
	}
	p.W1, p.B1 = cp(w[0]), cp(w[1])
	k := 2
	if p.Kind == MLP {
		p.W2, p.B2 = cp(w[2]), cp(w[3])
		k = 4
	}
	if p.Pool == PoolGeM {
		p.GeM = cp(w[k])
	}
}

// IsBias reports whether the i-th weight of [Params.Weights] of a linear or MLP head
// is a bias (biases get no weight decay). See [Params.NoDecay] for every kind.
func IsBias(i int) bool { return i%2 == 1 }

// NoDecay reports whether the i-th weight of [Params.Weights] is kept from weight
// decay: biases, layer-norm parameters and the GeM exponent (every 1-D tensor).
func (p *Params) NoDecay(i int) bool {
	_, dims := p.Weights()
	return len(dims[i]) == 1
}

// Frozen reports whether the i-th weight of [Params.Weights] stays as initialised in
// training: the fixed queries of an attention head.
func (p *Params) Frozen(i int) bool {
	return p.Kind == Attention && p.Attn.Fixed && i == AttnQueryIndex
}

// Standardize returns (x - Mean) / Std for n rows, or x itself when the head has no
// standardisation. For the attention head each channel of the map is standardised
// (Mean[c], Std[c] over its Tokens values); a head that pools the map itself
// standardises the pooled vector (in Logits) and Standardize returns x unchanged.
func (p *Params) Standardize(features []float32, n int) []float32 {
	if len(p.Mean) == 0 || p.Pool != "" {
		return features
	}
	if p.Kind == Attention {
		out := make([]float32, n*p.In)
		StandardizeMap(out, features, p.Mean, p.Std, p.Tokens)
		return out
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
	if p.Kind == Attention {
		return p.attnLogits(features, n)
	}
	x, in := p.Standardize(features, n), p.In
	if p.Pool != "" {
		in = p.width()
		x = p.PoolMaps(features, n)
		if len(p.Mean) > 0 {
			vec := *p
			vec.Pool, vec.In = "", in
			x = vec.Standardize(x, n)
		}
	}
	if p.Kind == MLP {
		h := dense(x, n, in, p.W1, p.B1, p.Hidden)
		for i, v := range h {
			if v < 0 {
				h[i] = 0
			}
		}
		return dense(h, n, p.Hidden, p.W2, p.B2, p.Out)
	}
	return dense(x, n, in, p.W1, p.B1, p.Out)
}

// StandardizeMap writes (src - mean[c]) / std[c] into dst for maps of len(mean)
// channels × tokens values (channel-major), row after row.
func StandardizeMap(dst, src, mean, std []float32, tokens int) {
	c := len(mean)
	for r := 0; r*tokens < len(src); r++ { // r counts (image, channel) rows
		m, sd := mean[r%c], std[r%c]
		row := src[r*tokens : (r+1)*tokens]
		out := dst[r*tokens : (r+1)*tokens]
		for i, v := range row {
			out[i] = (v - m) / sd
		}
	}
}

// PoolMaps pools n spatial maps (n × Channels × Tokens) as the head's Pool says: avg,
// max, avgmax (the average, then the max) or gem; it returns n rows of Width() values.
func (p *Params) PoolMaps(maps []float32, n int) []float32 {
	c, t, w := p.Channels, p.Tokens, p.width()
	out := make([]float32, n*w)
	gp := 0.0
	if p.Pool == PoolGeM {
		gp = float64(p.GeM[0])
	}
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			m := maps[(i*c+ch)*t : (i*c+ch+1)*t]
			var s float64
			mx := float32(math.Inf(-1))
			for _, v := range m {
				switch p.Pool {
				case PoolGeM:
					s += math.Pow(math.Max(float64(v), GeMEps), gp)
				default:
					s += float64(v)
				}
				mx = max(mx, v)
			}
			mean := s / float64(t)
			switch p.Pool {
			case PoolAvg:
				out[i*w+ch] = float32(mean)
			case PoolMax:
				out[i*w+ch] = mx
			case PoolAvgMax:
				out[i*w+ch], out[i*w+c+ch] = float32(mean), mx
			case PoolGeM:
				out[i*w+ch] = float32(math.Pow(mean, 1/gp))
			}
		}
	}
	return out
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
