package bundle

import (
	"fmt"

	"github.com/gomlx/compute-onnx/support/protos"

	"github.com/multilabel/multilabel/headparams"
)

// exporter appends the nodes of a head on the spatial map to an ONNX graph.
type exporter struct {
	g      *protos.GraphProto
	opset  int64
	n      int    // counter for unique names
	prefix string // of every name ("" for "head")
}

func (e *exporter) name(s string) string {
	e.n++
	p := e.prefix
	if p == "" {
		p = "head"
	}
	return fmt.Sprintf("%s_%s_%d", p, s, e.n)
}

// node adds op(inputs) with attributes and returns its output name.
func (e *exporter) node(op string, inputs []string, attrs ...*protos.AttributeProto) string {
	out := e.name(op)
	e.g.Node = append(e.g.Node, &protos.NodeProto{OpType: op, Input: inputs, Output: []string{out}, Name: out, Attribute: attrs})
	return out
}

func (e *exporter) floats(what string, dims []int64, vals []float32) string {
	name := e.name(what)
	e.g.Initializer = append(e.g.Initializer, &protos.TensorProto{Name: name, Dims: dims,
		DataType: int32(protos.TensorProto_FLOAT), FloatData: append([]float32(nil), vals...)})
	return name
}

func (e *exporter) ints(what string, vals ...int64) string {
	name := e.name(what)
	e.g.Initializer = append(e.g.Initializer, &protos.TensorProto{Name: name, Dims: []int64{int64(len(vals))},
		DataType: int32(protos.TensorProto_INT64), Int64Data: vals})
	return name
}

func intsAttr(name string, v ...int64) *protos.AttributeProto {
	return &protos.AttributeProto{Name: name, Type: protos.AttributeProto_INTS, Ints: v}
}

func intAttr(name string, v int64) *protos.AttributeProto {
	return &protos.AttributeProto{Name: name, Type: protos.AttributeProto_INT, I: v}
}

// reduce is ReduceMean/ReduceMax over axes (an attribute before opset 18, an input after).
func (e *exporter) reduce(op, x string, keep int64, axes ...int64) string {
	if e.opset >= 18 {
		return e.node(op, []string{x, e.ints("axes", axes...)}, intAttr("keepdims", keep))
	}
	return e.node(op, []string{x}, intsAttr("axes", axes...), intAttr("keepdims", keep))
}

func (e *exporter) reshape(x string, shape ...int64) string {
	return e.node("Reshape", []string{x, e.ints("shape", shape...)})
}

func (e *exporter) transpose(x string, perm ...int64) string {
	return e.node("Transpose", []string{x}, intsAttr("perm", perm...))
}

// dense is x·W + b with W [in][out].
func (e *exporter) dense(x string, in, out int, w, b []float32) string {
	mm := e.node("MatMul", []string{x, e.floats("w", []int64{int64(in), int64(out)}, w)})
	return e.node("Add", []string{mm, e.floats("b", []int64{int64(out)}, b)})
}

// layerNorm normalises the last axis (width d): (x-mean)/sqrt(var+eps)·g + b.
func (e *exporter) layerNorm(x string, d int, g, b []float32) string {
	m := e.reduce("ReduceMean", x, 1, -1)
	c := e.node("Sub", []string{x, m})
	v := e.reduce("ReduceMean", e.node("Mul", []string{c, c}), 1, -1)
	s := e.node("Sqrt", []string{e.node("Add", []string{v, e.floats("eps", nil, []float32{headparams.LayerNormEps})})})
	y := e.node("Div", []string{c, s})
	y = e.node("Mul", []string{y, e.floats("ln_g", []int64{int64(d)}, g)})
	return e.node("Add", []string{y, e.floats("ln_b", []int64{int64(d)}, b)})
}

// pool is headparams.Params.PoolMaps: x [N, C·T] → [N, Width].
func (e *exporter) pool(h *headparams.Params, x string) string {
	m := e.reshape(x, 0, int64(h.Channels), int64(h.Tokens))
	switch h.Pool {
	case headparams.PoolAvg:
		return e.reduce("ReduceMean", m, 0, 2)
	case headparams.PoolMax:
		return e.reduce("ReduceMax", m, 0, 2)
	case headparams.PoolAvgMax:
		return e.node("Concat", []string{e.reduce("ReduceMean", m, 0, 2), e.reduce("ReduceMax", m, 0, 2)}, intAttr("axis", 1))
	}
	// GeM: (mean_t max(x, eps)^p)^(1/p), p learnt (recorded as head_gem_p).
	p := h.GeM[0]
	// max(x, eps) as relu(x - eps) + eps: Max broadcasts only from opset 8.
	eps := e.floats("gem_eps", nil, []float32{headparams.GeMEps})
	c := e.node("Add", []string{e.node("Relu", []string{e.node("Sub", []string{m, eps})}), eps})
	pw := e.node("Pow", []string{c, e.floats("gem_p", nil, []float32{p})})
	mean := e.reduce("ReduceMean", pw, 0, 2)
	return e.node("Pow", []string{mean, e.floats("gem_inv_p", nil, []float32{1 / p})})
}

// attentionWeights builds the first half of the attention head on x [N, C·T]: the
// standardisation, the token projection, the keys (and, with values, the values) and
// the softmax of the queries' scaled products with the keys. It returns the weights
// att [N, H, K, T] and the values vh [N, H, T, dh] ("" without values). The queries do
// not depend on the image: their layer norm and projection are computed here once (as
// the pure-Go forward does) and stored as constants.
func (e *exporter) attentionWeights(h *headparams.Params, x string, values bool) (att, vh string) {
	a := h.Attn
	c, t, d, k, nh := int64(h.Channels), int64(h.Tokens), a.Dim, int64(a.Queries), int64(a.Heads)
	dh := int64(d / a.Heads)
	m := e.reshape(x, 0, c, t)
	if len(h.Mean) > 0 {
		m = e.node("Sub", []string{m, e.floats("mean", []int64{c, 1}, h.Mean)})
		m = e.node("Div", []string{m, e.floats("std", []int64{c, 1}, h.Std)})
	}
	tok := e.transpose(m, 0, 2, 1) // [N, T, C]
	emb := e.node("Relu", []string{e.dense(tok, h.Channels, d, a.Wp, a.Bp)})
	_, qh := a.Queries1()
	// Keys [N, H, dh, T] and values [N, H, T, dh].
	kh := e.transpose(e.reshape(e.dense(emb, d, d, a.Wk, a.Bk), 0, t, nh, dh), 0, 2, 3, 1)
	if values {
		vh = e.transpose(e.reshape(e.dense(emb, d, d, a.Wv, a.Bv), 0, t, nh, dh), 0, 2, 1, 3)
	}
	qc := make([]float32, len(qh)) // [K, D] → [H, K, dh]
	for qi := int64(0); qi < k; qi++ {
		for hi := int64(0); hi < nh; hi++ {
			for j := int64(0); j < dh; j++ {
				qc[(hi*k+qi)*dh+j] = qh[qi*int64(d)+hi*dh+j]
			}
		}
	}
	s := e.node("MatMul", []string{e.floats("queries", []int64{nh, k, dh}, qc), kh}) // [N, H, K, T]
	return e.node("Softmax", []string{s}, intAttr("axis", 3)), vh
}

// AttentionMapNodes returns the ONNX nodes and initializers that compute attention
// head h's maps from x [N, C·T] (the bundle graph's output, the spatial map at the
// cut): out [N, Out, T], the attention weights of each label's query over the tokens
// averaged over the heads — what headparams.Params.AttentionMaps computes in Go
// (labels decoded by one query share its row). opset is the graph's ONNX opset; the
// names start with prefix. Package model appends them to its explain graph, so the
// engine draws the maps in the run that computes the features.
func AttentionMapNodes(h *headparams.Params, x, out, prefix string, opset int64) ([]*protos.NodeProto, []*protos.TensorProto) {
	e := &exporter{g: &protos.GraphProto{}, opset: opset, prefix: prefix}
	att, _ := e.attentionWeights(h, x, false)
	m := e.reduce("ReduceMean", att, 0, 1) // [N, K, T]
	if a := h.Attn; a.Group > 1 || a.Queries != h.Out {
		idx := make([]int64, h.Out)
		for j := range idx {
			idx[j] = int64(j / a.Group)
		}
		m = e.node("Gather", []string{m, e.ints("query_of_label", idx...)}, intAttr("axis", 1))
	}
	e.g.Node = append(e.g.Node, &protos.NodeProto{OpType: "Identity", Input: []string{m}, Output: []string{out}, Name: out})
	return e.g.Node, e.g.Initializer
}

// attention is headparams.Params.Logits of the attention head: x [N, C·T] → out [N, Out].
func (e *exporter) attention(h *headparams.Params, x, out string) {
	a := h.Attn
	k, g := int64(a.Queries), a.Group
	d := a.Dim
	att, vh := e.attentionWeights(h, x, true)
	q1, _ := a.Queries1()
	o := e.node("MatMul", []string{att, vh}) // [N, H, K, dh]
	o = e.reshape(e.transpose(o, 0, 2, 1, 3), 0, k, int64(d))
	o = e.dense(o, d, d, a.Wo, a.Bo)
	u := e.layerNorm(e.node("Add", []string{o, e.floats("q1", []int64{k, int64(d)}, q1)}), d, a.LN2G, a.LN2B)
	f := e.node("Relu", []string{e.dense(u, d, a.FFN, a.F1, a.Fb1)})
	f = e.dense(f, a.FFN, d, a.F2, a.Fb2)
	v := e.layerNorm(e.node("Add", []string{u, f}), d, a.LN3G, a.LN3B) // [N, K, D]
	gl := e.node("MatMul", []string{e.transpose(v, 1, 0, 2), e.floats("wg", []int64{k, int64(d), int64(g)}, a.Wg)})
	logits := e.reshape(e.transpose(gl, 1, 0, 2), 0, k*int64(g))
	if int(k)*g != h.Out {
		idx := make([]int64, h.Out)
		for i := range idx {
			idx[i] = int64(i)
		}
		logits = e.node("Gather", []string{logits, e.ints("labels", idx...)}, intAttr("axis", 1))
	}
	e.g.Node = append(e.g.Node, &protos.NodeProto{OpType: "Add", Input: []string{logits, e.floats("bg", []int64{int64(h.Out)}, a.Bg)},
		Output: []string{out}, Name: out})
}
