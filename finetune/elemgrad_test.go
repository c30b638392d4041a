package finetune

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/multilabel/multilabel/internal/backends"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// TestBroadcastGrads: broadcastVJP's gradients of Mul and Div on ONNX Runtime, for
// both operands and every broadcast form a training graph has (per channel on either
// side, a scalar, two operands broadcast against each other), equal GoMLX's own on the
// pure-Go backend. The loss weights each output differently so a gradient summed over
// the wrong axes, or of the wrong sign, shows.
func TestBroadcastGrads(t *testing.T) {
	c, err := backends.Select(backends.ONNX, backends.Options{ORTLib: sharedtest.ORTLib(t)})
	if err != nil {
		t.Fatal(err)
	}
	shapes := [][2][]int{
		{{2, 3, 4, 5}, {1, 3, 1, 1}},
		{{1, 3, 1, 1}, {2, 3, 4, 5}},
		{{2, 3, 4, 5}, {}},
		{{}, {2, 3, 4, 5}},
		{{2, 1, 4, 5}, {1, 3, 1, 1}},
		{{2, 3, 4, 5}, {2, 3, 4, 5}},
	}
	fill := func(dims []int, seed float64, positive bool) *tensors.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(math.Sin(seed + 0.77*float64(i)))
			if positive {
				v[i] = 1.5 + v[i] // a divisor away from zero
			}
		}
		if len(dims) == 0 {
			return tensors.FromScalar(v[0])
		}
		return tensors.FromFlatDataAndDimensions(v, dims...)
	}
	run := func(be compute.Backend, isDiv bool, sa, sb []int) [][]float32 {
		a, b := fill(sa, 0.3, false), fill(sb, 1.1, isDiv) // a tensor per backend
		e, err := graph.NewExec(be, func(x, y *graph.Node) []*graph.Node {
			var out *graph.Node
			if isDiv {
				out = graph.Div(x, y)
			} else {
				out = graph.Mul(x, y)
			}
			w := graph.Sin(graph.IotaFull(x.Graph(), out.Shape()))
			l := graph.ReduceAllSum(graph.Mul(out, w))
			return append([]*graph.Node{out}, graph.Gradient(l, x, y)...)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Finalize()
		outs, err := e.Exec(a, b)
		if err != nil {
			t.Fatal(err)
		}
		r := make([][]float32, len(outs))
		for i, o := range outs {
			r[i] = tensors.MustCopyFlatData[float32](o)
		}
		return r
	}
	for _, isDiv := range []bool{false, true} {
		for _, s := range shapes {
			name := fmt.Sprintf("mul/%v×%v", s[0], s[1])
			if isDiv {
				name = fmt.Sprintf("div/%v÷%v", s[0], s[1])
			}
			t.Run(name, func(t *testing.T) {
				want := run(gobackend.GetBackend(), isDiv, s[0], s[1])
				got := run(c.Backend, isDiv, s[0], s[1])
				for i, what := range []string{"value", "gradient of a", "gradient of b"} {
					if d := maxDiff(got[i], want[i]); d > 1e-5 {
						t.Errorf("%s differs from GoMLX's on pure Go by %.3g", what, d)
					}
				}
			})
		}
	}
}
