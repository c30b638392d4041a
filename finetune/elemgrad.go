package finetune

import (
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// onnxBroadcastGrad: on ONNX Runtime, the gradients of Mul and Div whose operands are
// broadcast (a per-channel factor [1,C,1,1], a scalar) multiply by the small operand
// as it is, leaving the broadcast to the element-wise kernel, and reduce before they
// divide. GoMLX's own VJPs first broadcast the small operand to the full shape, which
// compute-onnx runs as an Expand that writes a full-size tensor and a full-by-full
// product after it — in the batch-norm arithmetic of every training step (ResNet-18,
// MobileNetV2 profiled 158 such Expands, 6% of a MobileNetV2 step). Same values: the
// products and sums are the same, in the same order per element.
var onnxBroadcastGrad = true

// gomlxMulVJP and gomlxDivVJP are GoMLX's own gradients of Mul and Div.
var (
	gomlxMulVJP = graph.VJPRegistration[graph.NodeTypeMul]
	gomlxDivVJP = graph.VJPRegistration[graph.NodeTypeDiv]
)

func init() {
	graph.VJPRegistration[graph.NodeTypeMul] = broadcastVJP(gomlxMulVJP, false)
	graph.VJPRegistration[graph.NodeTypeDiv] = broadcastVJP(gomlxDivVJP, true)
}

// broadcastVJP wraps GoMLX's gradient of Mul (isDiv false) or Div: on ONNX Runtime, and
// where an operand is broadcast, the gradient leaves the broadcast implicit.
func broadcastVJP(gomlx graph.VJP, isDiv bool) graph.VJP {
	return func(node *graph.Node, v []*graph.Node, outShape shapes.Shape) []*graph.Node {
		if !isDiv {
			if g := bnVJP(node, v); g != nil {
				return g
			}
		}
		in := node.Inputs()
		if !onnxBroadcastGrad || len(v) != 1 || len(in) != 2 || !node.DType().IsFloat() || !onONNX(node) ||
			!v[0].Shape().Equal(node.Shape()) || (in[0].Shape().Equal(node.Shape()) && in[1].Shape().Equal(node.Shape())) ||
			!broadcastable(in[0], node) || !broadcastable(in[1], node) {
			return gomlx(node, v, outShape)
		}
		a, b, g := in[0], in[1], v[0]
		if !isDiv {
			return []*graph.Node{reduceToShape(graph.Mul(g, b), a), reduceToShape(graph.Mul(g, a), b)}
		}
		// a/b: da = v/b; db = -Σ(v·a)/b², reduced to b's shape before the division.
		ga := reduceToShape(graph.Div(g, b), a)
		gb := graph.Neg(graph.Div(reduceToShape(graph.Mul(g, a), b), graph.Mul(b, b)))
		return []*graph.Node{ga, gb}
	}
}

// broadcastable reports whether x reaches node's shape by the backend's implicit
// broadcast: a scalar, or the same rank with each axis equal or 1.
func broadcastable(x, node *graph.Node) bool {
	if x.DType() != node.DType() {
		return false
	}
	if x.Rank() == 0 {
		return true
	}
	if x.Rank() != node.Rank() {
		return false
	}
	for i, d := range x.Shape().Dimensions {
		if d != 1 && d != node.Shape().Dimensions[i] {
			return false
		}
	}
	return true
}

// reduceToShape sums g (of the broadcast shape) over the axes x was broadcast along,
// giving x's shape: the gradient of an implicit broadcast.
func reduceToShape(g, x *graph.Node) *graph.Node {
	if x.Shape().Equal(g.Shape()) {
		return g
	}
	if x.Rank() == 0 {
		return graph.ReduceAllSum(g)
	}
	var axes []int
	for i, d := range x.Shape().Dimensions {
		if d == 1 && g.Shape().Dimensions[i] != 1 {
			axes = append(axes, i)
		}
	}
	return graph.ReshapeWithShape(graph.ReduceSum(g, axes...), x.Shape())
}
