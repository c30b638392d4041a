// Package optim builds the optimiser steps shared by the training graphs of packages
// train (the head on frozen features) and finetune (backbone tail and head): gradient
// clipping by global norm and the AdamW update, node for node the same in both.
package optim

import "github.com/gomlx/gomlx/core/graph"

// ClipByGlobalNorm returns the global L2 norm of grads, the gradients of loss, and
// grads scaled in place so that their norm is at most max (unchanged when max <= 0).
func ClipByGlobalNorm(loss *graph.Node, grads []*graph.Node, max float64) (clipped []*graph.Node, norm *graph.Node) {
	sq := graph.ScalarZero(loss.Graph(), loss.DType())
	for _, gr := range grads {
		sq = graph.Add(sq, graph.ReduceAllSum(graph.Square(gr)))
	}
	norm = graph.Sqrt(sq)
	if max > 0 {
		scale := graph.MinScalar(graph.Div(graph.ConstAs(norm, max), graph.AddScalar(norm, 1e-6)), 1)
		for j := range grads {
			grads[j] = graph.Mul(grads[j], scale)
		}
	}
	return grads, norm
}

// AdamW holds the hyper-parameters of one decoupled-weight-decay Adam step.
type AdamW struct {
	Beta1, Beta2, Eps float64
}

// Step updates one weight p with gradient grad and moments m, v: stepSize is the
// learning rate over the first bias correction (lr/bc1), sqrtBC2 the square root of the
// second one; decay (0 for none, e.g. biases) multiplies p by 1 − lr·decay first.
func (a AdamW) Step(p, grad, m, v, lr, stepSize, sqrtBC2 *graph.Node, decay float64) (newP, newM, newV *graph.Node) {
	newM = graph.Add(graph.MulScalar(m, a.Beta1), graph.MulScalar(grad, 1-a.Beta1))
	newV = graph.Add(graph.MulScalar(v, a.Beta2), graph.MulScalar(graph.Square(grad), 1-a.Beta2))
	if decay > 0 {
		p = graph.Mul(p, graph.OneMinus(graph.MulScalar(lr, decay)))
	}
	denom := graph.AddScalar(graph.Div(graph.Sqrt(newV), sqrtBC2), a.Eps)
	newP = graph.Sub(p, graph.Mul(stepSize, graph.Div(newM, denom)))
	return newP, newM, newV
}
