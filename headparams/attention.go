package headparams

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Attention is the kind of the ML-Decoder-style head on the spatial map.
const Attention = "attention"

// Spatial pooling inside a linear or MLP head (Params.Pool).
const (
	PoolAvg    = "avg"
	PoolMax    = "max"
	PoolAvgMax = "avgmax"
	// PoolGeM is generalised-mean pooling, (mean_t max(x,GeMEps)^p)^(1/p), with the
	// exponent p learnt with the head.
	PoolGeM = "gem"
)

// GeMEps is the lower clamp of the map's values before GeM's power (the map is a ReLU
// output, often exactly 0, and 0^p has no useful gradient in p).
const GeMEps = 1e-6

// GeMInitP is the initial GeM exponent (Radenović et al. report p≈3 as a good start).
const GeMInitP = 3

// LayerNormEps is the epsilon of the attention head's layer norms (PyTorch's default).
const LayerNormEps = 1e-5

// AttnParams holds the attention head's sizes and weights. Shapes (row-major, [in][out]
// like W1): D = Dim, K = Queries, G = Group, F = FFN, C = Params.Channels, N = Params.Out:
//
//	Wp [C][D], Bp [D]      token projection (then ReLU) of the standardised map
//	Q [K][D]               label queries (kept fixed in training when Fixed)
//	LN1G, LN1B [D]         layer norm of the queries
//	Wq, Wk, Wv, Wo [D][D]  and Bq, Bk, Bv, Bo [D]: multi-head cross-attention
//	LN2G, LN2B [D]         layer norm after the attention residual
//	F1 [D][F], Fb1 [F], F2 [F][D], Fb2 [D]: feed-forward (ReLU)
//	LN3G, LN3B [D]         layer norm after the feed-forward residual
//	Wg [K][D][G], Bg [N]   group decoding: query k emits logits k·G … k·G+G-1 (< N)
type AttnParams struct {
	Dim     int  `json:"dim"`
	Heads   int  `json:"heads"`
	FFN     int  `json:"ffn"`
	Queries int  `json:"queries"`
	Group   int  `json:"group"`
	Fixed   bool `json:"fixed_queries,omitempty"`

	Wp   []float32 `json:"wp"`
	Bp   []float32 `json:"bp"`
	Q    []float32 `json:"q"`
	LN1G []float32 `json:"ln1_g"`
	LN1B []float32 `json:"ln1_b"`
	Wq   []float32 `json:"wq"`
	Bq   []float32 `json:"bq"`
	Wk   []float32 `json:"wk"`
	Bk   []float32 `json:"bk"`
	Wv   []float32 `json:"wv"`
	Bv   []float32 `json:"bv"`
	Wo   []float32 `json:"wo"`
	Bo   []float32 `json:"bo"`
	LN2G []float32 `json:"ln2_g"`
	LN2B []float32 `json:"ln2_b"`
	F1   []float32 `json:"f1"`
	Fb1  []float32 `json:"fb1"`
	F2   []float32 `json:"f2"`
	Fb2  []float32 `json:"fb2"`
	LN3G []float32 `json:"ln3_g"`
	LN3B []float32 `json:"ln3_b"`
	Wg   []float32 `json:"wg"`
	Bg   []float32 `json:"bg"`
}

// AttnOptions size a new attention head.
type AttnOptions struct {
	Dim        int  `json:"dim,omitempty"`           // token and query width D (default 128)
	Heads      int  `json:"heads,omitempty"`         // attention heads (default 8; must divide Dim)
	FFN        int  `json:"ffn,omitempty"`           // feed-forward width (default 4·Dim)
	MaxQueries int  `json:"max_queries,omitempty"`   // at most this many queries (default 100); more labels use group decoding
	Fixed      bool `json:"fixed_queries,omitempty"` // queries fixed (seeded random orthonormal rows) instead of learnt
}

// Resolved returns o with its zero fields set to the defaults.
func (o AttnOptions) Resolved() AttnOptions {
	if o.Dim == 0 {
		o.Dim = 128
	}
	if o.Heads == 0 {
		o.Heads = 8
	}
	if o.FFN == 0 {
		o.FFN = 4 * o.Dim
	}
	if o.MaxQueries == 0 {
		o.MaxQueries = 100
	}
	return o
}

// fields lists the weights in graph order with their dimensions.
func (a *AttnParams) fields(c, n int) ([]*[]float32, [][]int) {
	d, k, g, f := a.Dim, a.Queries, a.Group, a.FFN
	return []*[]float32{&a.Wp, &a.Bp, &a.Q, &a.LN1G, &a.LN1B, &a.Wq, &a.Bq, &a.Wk, &a.Bk, &a.Wv, &a.Bv, &a.Wo, &a.Bo,
			&a.LN2G, &a.LN2B, &a.F1, &a.Fb1, &a.F2, &a.Fb2, &a.LN3G, &a.LN3B, &a.Wg, &a.Bg},
		[][]int{{c, d}, {d}, {k, d}, {d}, {d}, {d, d}, {d}, {d, d}, {d}, {d, d}, {d}, {d, d}, {d},
			{d}, {d}, {d, f}, {f}, {f, d}, {d}, {d}, {d}, {k, d, g}, {n}}
}

// AttnQueryIndex is the index of the queries Q in [Params.Weights] of an attention head.
const AttnQueryIndex = 2

// NewAttention returns a freshly initialised attention head for maps of channels×tokens
// values (tokens = H·W) and out labels, seeded with seed: dense weights uniform in
// ±1/sqrt(fan_in), biases zero, layer-norm gains one, queries N(0,1) (learnt) or
// seeded random orthonormal rows (fixed; plain unit rows when K > D).
func NewAttention(channels, tokens, out int, o AttnOptions, seed uint64) (*Params, error) {
	o = o.Resolved()
	switch {
	case channels <= 0 || tokens <= 0 || out <= 0:
		return nil, fmt.Errorf("head: attention needs positive channels %d, tokens %d and labels %d", channels, tokens, out)
	case o.Dim <= 0 || o.Heads <= 0 || o.Dim%o.Heads != 0:
		return nil, fmt.Errorf("head: attention width %d must be a positive multiple of the %d heads", o.Dim, o.Heads)
	case o.FFN <= 0 || o.MaxQueries <= 0:
		return nil, fmt.Errorf("head: attention FFN width %d and max queries %d must be positive", o.FFN, o.MaxQueries)
	}
	k := min(out, o.MaxQueries)
	a := &AttnParams{Dim: o.Dim, Heads: o.Heads, FFN: o.FFN, Queries: k, Group: (out + k - 1) / k, Fixed: o.Fixed}
	rng := rand.New(rand.NewPCG(seed, 0x6865616400000002))
	ptrs, dims := a.fields(channels, out)
	for i, p := range ptrs {
		n := sizeOf(dims[i])
		*p = make([]float32, n)
		switch {
		case len(dims[i]) == 1:
			if i == 3 || i == 13 || i == 19 { // layer-norm gains
				for j := range *p {
					(*p)[j] = 1
				}
			}
		case i == AttnQueryIndex:
			for j := range *p {
				(*p)[j] = float32(rng.NormFloat64())
			}
			if o.Fixed {
				orthonormalRows(*p, k, o.Dim)
			}
		default:
			fanIn := dims[i][len(dims[i])-2]
			b := 1 / math.Sqrt(float64(fanIn))
			for j := range *p {
				(*p)[j] = float32((rng.Float64()*2 - 1) * b)
			}
		}
	}
	return &Params{Kind: Attention, In: channels * tokens, Channels: channels, Tokens: tokens, Out: out, Attn: a}, nil
}

// orthonormalRows makes the rows of m [k][d] orthonormal by Gram–Schmidt (rows after
// the d-th, which cannot be orthogonal to the others, are only normalised).
func orthonormalRows(m []float32, k, d int) {
	for i := 0; i < k; i++ {
		r := m[i*d : (i+1)*d]
		if i < d {
			for j := 0; j < i; j++ {
				o := m[j*d : (j+1)*d]
				var dot float64
				for t := range r {
					dot += float64(r[t]) * float64(o[t])
				}
				for t := range r {
					r[t] -= float32(dot) * o[t]
				}
			}
		}
		var s float64
		for _, v := range r {
			s += float64(v) * float64(v)
		}
		s = math.Sqrt(s)
		if s == 0 {
			s = 1
		}
		for t := range r {
			r[t] = float32(float64(r[t]) / s)
		}
	}
}

func sizeOf(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// validateAttention checks an attention head's sizes and values.
func (p *Params) validateAttention() error {
	a := p.Attn
	if a == nil {
		return errors.New("head: attention head without its weights (attention)")
	}
	if p.Channels <= 0 || p.Tokens <= 0 || p.Channels > p.In || p.Tokens > p.In || p.Channels*p.Tokens != p.In {
		return fmt.Errorf("head: attention channels %d × tokens %d must equal in %d", p.Channels, p.Tokens, p.In)
	}
	const maxDim = 1 << 16
	switch {
	case a.Dim <= 0 || a.Dim > maxDim || a.Heads <= 0 || a.Dim%a.Heads != 0:
		return fmt.Errorf("head: attention dim %d must be a positive multiple of heads %d (max %d)", a.Dim, a.Heads, maxDim)
	case a.FFN <= 0 || a.FFN > maxDim:
		return fmt.Errorf("head: attention ffn %d out of range", a.FFN)
	case a.Queries <= 0 || a.Queries > p.Out || a.Group <= 0 || a.Group != (p.Out+a.Queries-1)/a.Queries:
		return fmt.Errorf("head: attention queries %d and group %d do not cover %d labels (group must be ⌈labels/queries⌉)", a.Queries, a.Group, p.Out)
	}
	if len(p.W1)+len(p.B1)+len(p.W2)+len(p.B2) != 0 {
		return errors.New("head: attention head has w1/b1/w2/b2")
	}
	names := []string{"wp", "bp", "q", "ln1_g", "ln1_b", "wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo",
		"ln2_g", "ln2_b", "f1", "fb1", "f2", "fb2", "ln3_g", "ln3_b", "wg", "bg"}
	ptrs, dims := a.fields(p.Channels, p.Out)
	for i, ptr := range ptrs {
		if err := checkField(names[i], *ptr, sizeOf(dims[i])); err != nil {
			return err
		}
	}
	return nil
}

func checkField(name string, v []float32, n int) error {
	if len(v) != n {
		return fmt.Errorf("head: %s has %d values, want %d", name, len(v), n)
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("head: %s[%d] = %v is not finite", name, i, x)
		}
	}
	return nil
}

// layerNorm normalises each row of x [rows][d] in place: (x-mean)/sqrt(var+eps)·g + b.
func layerNorm(x []float32, rows, d int, g, b []float32) {
	for r := 0; r < rows; r++ {
		row := x[r*d : (r+1)*d]
		var m float64
		for _, v := range row {
			m += float64(v)
		}
		m /= float64(d)
		var s float64
		for _, v := range row {
			s += (float64(v) - m) * (float64(v) - m)
		}
		inv := 1 / math.Sqrt(s/float64(d)+LayerNormEps)
		for j, v := range row {
			row[j] = float32((float64(v)-m)*inv)*g[j] + b[j]
		}
	}
}

func relu(x []float32) {
	for i, v := range x {
		if v < 0 {
			x[i] = 0
		}
	}
}

// Queries1 returns the queries after their layer norm, q1 [K][D], and their projection
// with Wq scaled by 1/sqrt(head width), [K][D]: the image-independent part of the layer.
func (a *AttnParams) Queries1() (q1, qh []float32) { return a.attnQueries() }

// attnQueries returns the layer-normed queries q1 [K][D] and their projection with Wq
// (scaled by 1/sqrt(head width)) — both independent of the image.
func (a *AttnParams) attnQueries() (q1, qh []float32) {
	q1 = append([]float32(nil), a.Q...)
	layerNorm(q1, a.Queries, a.Dim, a.LN1G, a.LN1B)
	qh = dense(q1, a.Queries, a.Dim, a.Wq, a.Bq, a.Dim)
	s := float32(1 / math.Sqrt(float64(a.Dim/a.Heads)))
	for i := range qh {
		qh[i] *= s
	}
	return q1, qh
}

// attnImage runs the attention head on one standardised map z [C][T]: it returns the
// logits [Out] and, when maps is not nil, adds the head-averaged attention weights
// [K][T] into maps.
func (p *Params) attnImage(z []float32, q1, qh []float32, maps []float32) []float32 {
	a := p.Attn
	c, t, d, k := p.Channels, p.Tokens, a.Dim, a.Queries
	zt := make([]float32, t*c) // [T][C]
	for ci := 0; ci < c; ci++ {
		for ti := 0; ti < t; ti++ {
			zt[ti*c+ci] = z[ci*t+ti]
		}
	}
	e := dense(zt, t, c, a.Wp, a.Bp, d)
	relu(e)
	kh := dense(e, t, d, a.Wk, a.Bk, d)
	vh := dense(e, t, d, a.Wv, a.Bv, d)
	dh := d / a.Heads
	o := make([]float32, k*d)
	s := make([]float64, t)
	for h := 0; h < a.Heads; h++ {
		for qi := 0; qi < k; qi++ {
			qr := qh[qi*d+h*dh : qi*d+(h+1)*dh]
			mx := math.Inf(-1)
			for ti := 0; ti < t; ti++ {
				kr := kh[ti*d+h*dh : ti*d+(h+1)*dh]
				var v float32
				for j, x := range qr {
					v += x * kr[j]
				}
				s[ti] = float64(v)
				mx = math.Max(mx, s[ti])
			}
			var sum float64
			for ti := range s {
				s[ti] = math.Exp(s[ti] - mx)
				sum += s[ti]
			}
			or := o[qi*d+h*dh : qi*d+(h+1)*dh]
			for ti := 0; ti < t; ti++ {
				w := float32(s[ti] / sum)
				if maps != nil {
					maps[qi*t+ti] += w / float32(a.Heads)
				}
				vr := vh[ti*d+h*dh : ti*d+(h+1)*dh]
				for j, x := range vr {
					or[j] += w * x
				}
			}
		}
	}
	u := dense(o, k, d, a.Wo, a.Bo, d)
	for i := range u {
		u[i] += q1[i]
	}
	layerNorm(u, k, d, a.LN2G, a.LN2B)
	f := dense(u, k, d, a.F1, a.Fb1, a.FFN)
	relu(f)
	f = dense(f, k, a.FFN, a.F2, a.Fb2, d)
	for i := range f {
		f[i] += u[i]
	}
	layerNorm(f, k, d, a.LN3G, a.LN3B)
	g := a.Group
	logits := make([]float32, p.Out)
	for qi := 0; qi < k; qi++ {
		for gi := 0; gi < g; gi++ {
			j := qi*g + gi
			if j >= p.Out {
				break
			}
			var v float32
			for di := 0; di < d; di++ {
				v += f[qi*d+di] * a.Wg[(qi*d+di)*g+gi]
			}
			logits[j] = v + a.Bg[j]
		}
	}
	return logits
}

// attnLogits is Logits for the attention head.
func (p *Params) attnLogits(features []float32, n int) []float32 {
	x := p.Standardize(features, n)
	q1, qh := p.Attn.attnQueries()
	out := make([]float32, 0, n*p.Out)
	for i := 0; i < n; i++ {
		out = append(out, p.attnImage(x[i*p.In:(i+1)*p.In], q1, qh, nil)...)
	}
	return out
}

// AttentionMaps returns, for each of n spatial maps (n × Channels × Tokens values,
// channel-major as the spatial backbone graph writes them, Tokens = H·W row-major), the
// attention weights of each label over the tokens, averaged over the heads:
// maps[image][label] has Tokens values summing to 1. Labels decoded by the same query
// (group decoding) share that query's map. It is an error for a head that is not an
// attention head or for a wrong number of values.
func (p *Params) AttentionMaps(spatial []float32, n int) ([][][]float32, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Kind != Attention {
		return nil, fmt.Errorf("head: attention maps need an attention head, not %q", p.Kind)
	}
	if n < 0 || len(spatial) != n*p.In {
		return nil, fmt.Errorf("head: got %d values for %d maps of %d×%d", len(spatial), n, p.Channels, p.Tokens)
	}
	x := p.Standardize(spatial, n)
	a := p.Attn
	q1, qh := a.attnQueries()
	out := make([][][]float32, n)
	for i := range out {
		m := make([]float32, a.Queries*p.Tokens)
		p.attnImage(x[i*p.In:(i+1)*p.In], q1, qh, m)
		out[i] = make([][]float32, p.Out)
		for j := range out[i] {
			q := j / a.Group
			out[i][j] = append([]float32(nil), m[q*p.Tokens:(q+1)*p.Tokens]...)
		}
	}
	return out, nil
}
