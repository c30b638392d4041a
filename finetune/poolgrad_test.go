package finetune

import (
	"fmt"
	"testing"

	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	timage "github.com/gomlx/gomlx/core/tensors/images"

	"github.com/multilabel/multilabel/internal/backends"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// refMaxPoolGrad is the max-pool gradient by PyTorch's rule, written out: each window's
// output gradient goes to its first maximum in row-major order; padding never wins.
func refMaxPoolGrad(x, v []float32, N, C, H, W, k, s, pt, pb int) []float32 {
	Ho, Wo := (H+pt+pb-k)/s+1, (W+pt+pb-k)/s+1
	dx := make([]float32, len(x))
	for nc := 0; nc < N*C; nc++ {
		for oh := range Ho {
			for ow := range Wo {
				best := -1
				for i := range k {
					for j := range k {
						r, c := oh*s+i-pt, ow*s+j-pt
						if r < 0 || c < 0 || r >= H || c >= W {
							continue
						}
						if at := nc*H*W + r*W + c; best < 0 || x[at] > x[best] {
							best = at
						}
					}
				}
				dx[best] += v[nc*Ho*Wo+oh*Wo+ow]
			}
		}
	}
	return dx
}

// TestMaxPoolGradTies: maxPoolGradScatter and maxPoolGrad on ONNX Runtime, with many
// ties (values from a small set), overlapping windows and all-negative inputs under
// padding, match the first-maximum rule exactly; and the reflection they rely on reads
// GoMLX's ReduceWindow node.
func TestMaxPoolGradTies(t *testing.T) {
	g := graph.NewGraph(gobackend.GetBackend(), "pool")
	x0 := graph.Parameter(g, "x", tensors.FromFlatDataAndDimensions(make([]float32, 2*7*7), 1, 2, 7, 7).Shape())
	p, ok := poolParamsOf(graph.MaxPool(x0).ChannelsAxis(timage.ChannelsFirst).Window(3).Strides(2).PaddingPerDim([][2]int{{0, 1}, {0, 1}}).Done())
	if !ok || len(p.window) != 4 || p.window[2] != 3 || len(p.strides) != 4 || p.strides[3] != 2 || len(p.paddings) != 4 || p.paddings[2] != [2]int{0, 1} {
		t.Fatalf("poolParamsOf = %+v, %v", p, ok)
	}
	c, err := backends.Select("onnx", backends.Options{ORTLib: sharedtest.ORTLib(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer func(old bool) { onnxPoolScatter = old }(onnxPoolScatter)
	for _, sc := range []bool{true, false} {
		onnxPoolScatter = sc // maxPoolGradScatter, then maxPoolGrad
		for _, tc := range []struct {
			H, k, s, pt, pb int
			neg             bool
		}{{7, 3, 2, 0, 0, false}, {8, 3, 2, 0, 1, false}, {5, 3, 1, 1, 1, false}, {6, 2, 2, 0, 0, false}, {9, 3, 3, 0, 0, false}, {7, 2, 3, 0, 0, false},
			{8, 3, 2, 1, 1, true}, {8, 3, 2, 0, 1, true}} {
			t.Run(fmt.Sprintf("scatter=%v/H%d_k%d_s%d_p%d%d_neg=%v", sc, tc.H, tc.k, tc.s, tc.pt, tc.pb, tc.neg), func(t *testing.T) {
				N, C, H := 2, 3, tc.H
				Ho := (H+tc.pt+tc.pb-tc.k)/tc.s + 1
				x := make([]float32, N*C*H*H)
				for i := range x {
					x[i] = float32((i*7 + i/5) % 3) // many ties
					if tc.neg {
						x[i] -= 3 // all negative: a window over padding must still pick a real input
					}
				}
				v := make([]float32, N*C*Ho*Ho)
				for i := range v {
					v[i] = float32(i%11) + 1
				}
				e, err := graph.NewExec(c.Backend, func(x, v *graph.Node) *graph.Node {
					pads := [][2]int{{tc.pt, tc.pb}, {tc.pt, tc.pb}}
					y := graph.MaxPool(x).ChannelsAxis(timage.ChannelsFirst).Window(tc.k).Strides(tc.s).PaddingPerDim(pads).Done()
					return graph.Gradient(graph.ReduceAllSum(graph.Mul(y, v)), x)[0]
				})
				if err != nil {
					t.Fatal(err)
				}
				out, err := e.Exec(tensors.FromFlatDataAndDimensions(x, N, C, H, H), tensors.FromFlatDataAndDimensions(v, N, C, Ho, Ho))
				if err != nil {
					t.Fatal(err)
				}
				got := tensors.MustCopyFlatData[float32](out[0])
				want := refMaxPoolGrad(x, v, N, C, H, H, tc.k, tc.s, tc.pt, tc.pb)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("dx[%d] = %v, want %v", i, got[i], want[i])
					}
				}
			})
		}
	}
}
