package head

import (
	"encoding/json"
	"os"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// gemRef is testdata/gem_ref.json, written by testdata/attention_ref.py (PyTorch).
type gemRef struct {
	N, Channels, Tokens, Labels int
	P                           float32
	X, W, B, Y                  []float32
	PooledJ                     []float64 `json:"pooled"`
	LogitsJ                     []float64 `json:"logits"`
	GradWJ                      []float64 `json:"grad_w"`
	GradP                       float64   `json:"grad_p"`
	Loss                        float64
}

// GeM pooling with a linear head: the pure-Go forward and the GoMLX graph (values and
// the gradients of the BCE loss with respect to p and the weights, on the go and onnx
// backends) equal PyTorch's on a ReLU-like map with zeros.
func TestGeMMatchesPyTorch(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/gem_ref.json")
	if err != nil {
		t.Fatal(err)
	}
	var r gemRef
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	p := &Params{Kind: Linear, In: r.Channels * r.Tokens, Channels: r.Channels, Tokens: r.Tokens, Out: r.Labels,
		Pool: PoolGeM, GeM: []float32{r.P}, W1: r.W, B1: r.B}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "pooled", p.PoolMaps(r.X, r.N), r.PooledJ, 1e-5)
	closeTo(t, "logits", p.Logits(r.X, r.N), r.LogitsJ, 1e-5)
	w, dims := p.Weights()
	for name, b := range attnBackends(t) {
		args := []any{tensors.FromFlatDataAndDimensions(r.X, r.N, p.In), tensors.FromFlatDataAndDimensions(r.Y, r.N, r.Labels)}
		for i := range w {
			args = append(args, tensors.FromFlatDataAndDimensions(append([]float32(nil), w[i]...), dims[i]...))
		}
		out, err := ExecOnceN(b, func(g *Graph, in []*Node) []*Node {
			pooled := PoolGraph(p, in[0], in[4])
			z := ForwardGraph(Linear, pooled, in[2:4], nil)
			y := in[1]
			l := ReduceAllMean(Add(Sub(Max(z, ZerosLike(z)), Mul(z, y)), Log1P(Exp(Neg(Abs(z))))))
			gr := Gradient(l, in[2], in[4])
			return []*Node{pooled, l, gr[0], gr[1]}
		}, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		closeTo(t, name+" pooled", tensors.MustCopyFlatData[float32](out[0]), r.PooledJ, 1e-4)
		closeTo(t, name+" loss", tensors.MustCopyFlatData[float32](out[1]), []float64{r.Loss}, 1e-5)
		closeTo(t, name+" grad w", tensors.MustCopyFlatData[float32](out[2]), r.GradWJ, 1e-4)
		closeTo(t, name+" grad p", tensors.MustCopyFlatData[float32](out[3]), []float64{r.GradP}, 1e-4)
	}
}
