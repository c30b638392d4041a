// Package head holds the classification heads trained on backbone features: a linear
// head and a one-hidden-layer MLP (ReLU, dropout while training).
//
// A trained head is a plain-Go, JSON-able [Params] value (package headparams, aliased here) with a pure-Go forward pass
// ([Params.Logits]) so that prediction and serving need no GoMLX. The same forward is
// also available as a GoMLX graph ([ForwardGraph]) for training; both agree (tested).
//
// Layout: weights are row-major [in][out]. For the linear head W1 is [In][Out] and B1
// [Out]; for the MLP W1 is [In][Hidden], B1 [Hidden], W2 [Hidden][Out], B2 [Out].
// When Mean and Std are set, features are standardised first: (x - Mean) / Std.
package head

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"

	"github.com/multilabel/multilabel/headparams"
)

// Head kinds.
const (
	Linear = headparams.Linear
	MLP    = headparams.MLP
)

// Params is a trained (or initialised) head; see headparams.Params.
type Params = headparams.Params

// New returns a freshly initialised head; see headparams.New.
func New(kind string, in, hidden, out int, seed uint64) (*Params, error) {
	return headparams.New(kind, in, hidden, out, seed)
}

// IsBias reports whether the i-th tensor of Params.Weights is a bias.
func IsBias(i int) bool { return headparams.IsBias(i) }

// ForwardGraph builds the head's forward pass in GoMLX on already standardised features
// x [n, In]. weights are the nodes of [Params.Weights] in order. dropMask, when not
// nil, multiplies the MLP's hidden activations (shape [n, Hidden], holding 0 or
// 1/(1-rate): inverted dropout); it is ignored by the linear head.
func ForwardGraph(kind string, x *graph.Node, weights []*graph.Node, dropMask *graph.Node) *graph.Node {
	switch kind {
	case Linear:
		return graph.Add(graph.MatMul(x, weights[0]), graph.ExpandAxes(weights[1], 0))
	case MLP:
		h := graph.Add(graph.MatMul(x, weights[0]), graph.ExpandAxes(weights[1], 0))
		h = graph.Max(h, graph.ZerosLike(h))
		if dropMask != nil {
			h = graph.Mul(h, dropMask)
		}
		return graph.Add(graph.MatMul(h, weights[2]), graph.ExpandAxes(weights[3], 0))
	}
	panic(fmt.Errorf("head: unknown head %q (want linear or mlp)", kind))
}
