package finetune

import (
	"sync"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/onnx-gomlx/onnx"
)

// onnxBNGrad: on ONNX Runtime, the gradient of a batch norm trained with batch
// statistics (trainBatchNorms' rewrite) is the closed form
//
//	dx = f·dy − f·Σdy/N − d·f·Σ(dy·d)/(N·(var+ε)),   f = γ/√(var+ε), d = x − mean,
//
// (N values per channel) in four element-wise passes after the two sums the γ and β
// gradients need anyway, instead of GoMLX's differentiation of the decomposed
// statistics: a broadcast of each statistic's gradient back to full size, the two
// products of d·d's gradient and their sums — about eight full-size passes. The
// γ and β gradients are GoMLX's (Σ dy·d / √(var+ε) and Σ dy). Same function, so the
// values agree to rounding (TestGradientConformance's batch-norm cases against
// PyTorch, the whole-network gradients of ResNet-18 and MobileNetV2).
var onnxBNGrad = true

// bnTensors names the tensors of one rewritten batch norm that the closed-form
// gradient hooks into: d = x − mean (Sub), d·d (Mul), d·f (Mul), var + ε ([1,C,1,1]).
type bnTensors struct{ centered, sq, scaled, varEps string }

// bnMark is what the gradient of a marked node needs: its role and, for the scaled
// product, d's variance + ε and the number of values per channel.
type bnMark struct {
	role   int // bnCentered, bnSq or bnScaled
	varEps *graph.Node
	n      float64
}

const (
	bnCentered = iota
	bnSq
	bnScaled
)

// bnMarks holds the marked nodes of the graphs being built (keyed by node, so
// concurrent builds do not meet); callTail's release removes a graph's marks.
var bnMarks sync.Map

// gomlxSubVJP is GoMLX's own gradient of Sub.
var gomlxSubVJP = graph.VJPRegistration[graph.NodeTypeSub]

func init() {
	graph.VJPRegistration[graph.NodeTypeSub] = func(node *graph.Node, v []*graph.Node, outShape shapes.Shape) []*graph.Node {
		if mk, ok := bnMarks.Load(node); ok && mk.(bnMark).role == bnCentered && len(v) == 1 {
			// dx arrives whole from the scaled product (the d·d side gives none); the
			// mean's gradient is part of it.
			return []*graph.Node{v[0], nil}
		}
		return gomlxSubVJP(node, v, outShape)
	}
}

// bnVJP is the gradient of a marked Mul, or nil when node is not marked.
func bnVJP(node *graph.Node, v []*graph.Node) []*graph.Node {
	mk, ok := bnMarks.Load(node)
	if !ok || len(v) != 1 {
		return nil
	}
	m := mk.(bnMark)
	switch m.role {
	case bnSq:
		return []*graph.Node{nil, nil} // the variance's gradient is in the scaled side's dx
	case bnScaled:
		in := node.Inputs()
		g, d, f := v[0], in[0], in[1]
		s1 := reduceToShape(graph.Mul(g, d), f) // Σ dy·d: f's gradient
		s0 := reduceToShape(g, f)               // Σ dy
		nc := graph.Scalar(node.Graph(), f.DType(), m.n)
		k1 := graph.Neg(graph.Div(graph.Mul(f, s1), graph.Mul(m.varEps, nc)))
		k2 := graph.Neg(graph.Div(graph.Mul(f, s0), nc))
		dd := graph.Add(graph.Add(graph.Mul(g, f), graph.Mul(d, k1)), k2)
		return []*graph.Node{dd, s1}
	}
	return nil
}

// callTail is m.CallGraph for outputs, with the batch norms bns (trainBatchNorms'
// rewrite) marked for the closed-form gradient where the graph is built for ONNX
// Runtime and each has the expected form; release unmarks them once the gradient is
// built.
func callTail(m onnx.Model, g *graph.Graph, inputs map[string]*graph.Node, bns []bnTensors, outputs ...string) (outs []*graph.Node, release func()) {
	be := g.Backend()
	if !onnxBNGrad || len(bns) == 0 || be == nil || !loweringForName(be.Name()).phases {
		return m.CallGraph(nil, g, inputs, outputs...), func() {}
	}
	names := append([]string(nil), outputs...)
	for _, b := range bns {
		names = append(names, b.centered, b.sq, b.scaled, b.varEps)
	}
	all := m.CallGraph(nil, g, inputs, names...)
	var marked []*graph.Node
	for i := range bns {
		t := all[len(outputs)+4*i:]
		c, sq, sc, ve := t[0], t[1], t[2], t[3]
		if !bnForm(c, sq, sc, ve) {
			continue
		}
		n := float64(c.Shape().Size()) / float64(ve.Shape().Size())
		bnMarks.Store(c, bnMark{role: bnCentered})
		bnMarks.Store(sq, bnMark{role: bnSq})
		bnMarks.Store(sc, bnMark{role: bnScaled, varEps: ve, n: n})
		marked = append(marked, c, sq, sc)
	}
	return all[:len(outputs)], func() {
		for _, k := range marked {
			bnMarks.Delete(k)
		}
	}
}

// bnForm checks that the imported nodes are the rewrite's: c = x − mean, sq = c·c,
// sc = c·f with f and ve per channel ([1,C,1,…]), all float.
func bnForm(c, sq, sc, ve *graph.Node) bool {
	if c.Type() != graph.NodeTypeSub || sq.Type() != graph.NodeTypeMul || sc.Type() != graph.NodeTypeMul ||
		!c.DType().IsFloat() || c.Rank() < 2 || ve.Rank() != c.Rank() {
		return false
	}
	if in := sq.Inputs(); len(in) != 2 || in[0] != c || in[1] != c {
		return false
	}
	in := sc.Inputs()
	if len(in) != 2 || in[0] != c || !in[1].Shape().Equal(ve.Shape()) || !sc.Shape().Equal(c.Shape()) {
		return false
	}
	for i, d := range ve.Shape().Dimensions {
		if want := c.Shape().Dimensions[i]; i == 1 && d != want || i != 1 && d != 1 {
			return false
		}
	}
	return true
}
