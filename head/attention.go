package head

import (
	"math"

	"github.com/gomlx/gomlx/core/graph"

	"github.com/multilabel/multilabel/headparams"
)

// Attention is the kind of the ML-Decoder-style head on the spatial map.
const Attention = headparams.Attention

// NewAttention returns a freshly initialised attention head; see headparams.NewAttention.
func NewAttention(channels, tokens, out int, o headparams.AttnOptions, seed uint64) (*Params, error) {
	return headparams.NewAttention(channels, tokens, out, o, seed)
}

// AttnDrops are the inverted-dropout masks of the attention head's training step (each
// holding 0 or 1/(1-rate)); nil fields mean no dropout there.
type AttnDrops struct {
	Attn *graph.Node // [n, K, D] on the attention output before its residual
	FFN  *graph.Node // [n, K, FFN] on the feed-forward hidden layer
	Out  *graph.Node // [n, K, D] on the feed-forward output before its residual
}

// addL and mulL are Add and Mul with y of lower rank broadcast from the left.
func addL(x, y *graph.Node) *graph.Node { return graph.Add(x, graph.ExpandLeftToRank(y, x.Rank())) }
func mulL(x, y *graph.Node) *graph.Node { return graph.Mul(x, graph.ExpandLeftToRank(y, x.Rank())) }

// layerNormGraph normalises the last axis of x: (x-mean)/sqrt(var+eps)·g + b.
func layerNormGraph(x, g, b *graph.Node) *graph.Node {
	last := x.Rank() - 1
	m := graph.ReduceAndKeep(x, graph.ReduceMean, last)
	d := graph.Sub(x, m)
	v := graph.ReduceAndKeep(graph.Square(d), graph.ReduceMean, last)
	y := graph.Div(d, graph.Sqrt(graph.AddScalar(v, headparams.LayerNormEps)))
	return addL(mulL(y, g), b)
}

// standardAttention forces the textbook order of the key/value projections (tests).
var standardAttention = false

// AttentionGraph is the attention head's forward pass in GoMLX, the same computation as
// headparams.Params.Logits: x [n, Channels·Tokens] are maps already standardised per
// channel; w are the nodes of p.Weights() in order (p gives only the sizes). It returns
// the logits [n, Out].
func AttentionGraph(p *Params, x *graph.Node, w []*graph.Node, drops AttnDrops) *graph.Node {
	a := p.Attn
	n := x.Shape().Dimensions[0]
	c, t, d, k, h := p.Channels, p.Tokens, a.Dim, a.Queries, a.Heads
	dh := d / h
	x = graph.Reshape(x, n, c, t)
	// Tokens: [n, T, D] = relu(xᵀ·Wp + bp).
	e := graph.Einsum("nct,cd->ntd", x, w[0])
	e = addL(e, w[1])
	e = graph.Max(e, graph.ZerosLike(e))
	q1 := layerNormGraph(w[2], w[3], w[4])                                      // [K, D]
	qh := addL(graph.MatMul(q1, w[5]), w[6])                                    // [K, D]
	qh = graph.MulScalar(graph.Reshape(qh, k, h, dh), 1/math.Sqrt(float64(dh))) // [K, H, dh]
	var o *graph.Node
	if k*h <= t && !standardAttention {
		// The queries do not depend on the image, so the key and value projections can
		// be applied on the query side: scores = (qh·Wkᵀ)·eᵀ (the key bias adds a
		// constant per query and head, which the softmax removes) and
		// o = (att·e)·Wv + bv (attention rows sum to 1). Same values, and K·H·T·D
		// multiplications instead of 2·T·D·D — most of a step when K·H < T (MIML: 5
		// labels × 8 heads against 169 tokens).
		wk := graph.Reshape(w[7], d, h, dh)
		wv := graph.Reshape(w[9], d, h, dh)
		qk := graph.Einsum("khe,dhe->hkd", qh, wk)
		att := graph.Softmax(graph.Einsum("hkd,ntd->nhkt", qk, e), 3)
		ae := graph.Einsum("nhkt,ntd->nhkd", att, e)
		o = addL(graph.Einsum("nhkd,dhe->nkhe", ae, wv), graph.Reshape(w[10], h, dh))
		o = graph.Reshape(o, n, k, d)
	} else {
		kh := graph.Reshape(addL(graph.Einsum("ntd,de->nte", e, w[7]), w[8]), n, t, h, dh)
		vh := graph.Reshape(addL(graph.Einsum("ntd,de->nte", e, w[9]), w[10]), n, t, h, dh)
		att := graph.Softmax(graph.Einsum("khe,nthe->nhkt", qh, kh), 3)
		o = graph.Reshape(graph.Einsum("nhkt,nthe->nkhe", att, vh), n, k, d)
	}
	o = addL(graph.Einsum("nkd,de->nke", o, w[11]), w[12])
	if drops.Attn != nil {
		o = graph.Mul(o, drops.Attn)
	}
	u := layerNormGraph(addL(o, q1), w[13], w[14]) // [n, K, D]
	f := addL(graph.Einsum("nkd,df->nkf", u, w[15]), w[16])
	f = graph.Max(f, graph.ZerosLike(f))
	if drops.FFN != nil {
		f = graph.Mul(f, drops.FFN)
	}
	f = addL(graph.Einsum("nkf,fd->nkd", f, w[17]), w[18])
	if drops.Out != nil {
		f = graph.Mul(f, drops.Out)
	}
	v := layerNormGraph(graph.Add(u, f), w[19], w[20])
	logits := graph.Reshape(graph.Einsum("nkd,kdg->nkg", v, w[21]), n, k*a.Group)
	if k*a.Group != p.Out {
		logits = graph.Slice(logits, graph.AxisRange(), graph.AxisRange(0, p.Out))
	}
	return addL(logits, w[22])
}

// PoolGraph pools x [n, Channels·Tokens] (the raw map) as p.Pool says (avg, max,
// avgmax or gem) into [n, Width]; gemP is the [1] exponent node for gem (else nil). It
// is headparams.Params.PoolMaps in GoMLX.
func PoolGraph(p *Params, x *graph.Node, gemP *graph.Node) *graph.Node {
	n := x.Shape().Dimensions[0]
	x = graph.Reshape(x, n, p.Channels, p.Tokens)
	switch p.Pool {
	case headparams.PoolAvg:
		return graph.ReduceMean(x, 2)
	case headparams.PoolMax:
		return graph.ReduceMax(x, 2)
	case headparams.PoolAvgMax:
		return graph.Concatenate([]*graph.Node{graph.ReduceMean(x, 2), graph.ReduceMax(x, 2)}, 1)
	case headparams.PoolGeM:
		pw := graph.Reshape(gemP) // scalar
		y := graph.Pow(graph.MaxScalar(x, headparams.GeMEps), pw)
		return graph.Pow(graph.ReduceMean(y, 2), graph.Inverse(pw))
	}
	panic("head: unknown pooling " + p.Pool)
}

// PoolGeM is generalised-mean pooling inside a head (headparams.PoolGeM).
const PoolGeM = headparams.PoolGeM
