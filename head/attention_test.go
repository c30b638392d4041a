package head

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/headparams"
	"github.com/multilabel/multilabel/internal/backends"
)

// attnRef is testdata/attention_ref.json, written by testdata/attention_ref.py (PyTorch).
type attnRef struct {
	N, Channels, Tokens, Dim, Heads, FFN, Labels, Queries, Group int
	X, Mean, Std, Y                                              []float32
	Weights, Grads                                               map[string][]float64
	Logits, Attention                                            []float64
	Loss                                                         float64
}

var attnOrder = []string{"wp", "bp", "q", "ln1_g", "ln1_b", "wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo",
	"ln2_g", "ln2_b", "f1", "fb1", "f2", "fb2", "ln3_g", "ln3_b", "wg", "bg"}

func loadAttnRef(t *testing.T) (*attnRef, *Params) {
	t.Helper()
	data, err := os.ReadFile("testdata/attention_ref.json")
	if err != nil {
		t.Fatal(err)
	}
	var r attnRef
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	p, err := NewAttention(r.Channels, r.Tokens, r.Labels, headparams.AttnOptions{Dim: r.Dim, Heads: r.Heads, FFN: r.FFN, MaxQueries: r.Queries}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p.Attn.Queries != r.Queries || p.Attn.Group != r.Group {
		t.Fatalf("queries %d group %d, reference %d %d", p.Attn.Queries, p.Attn.Group, r.Queries, r.Group)
	}
	w := make([][]float32, len(attnOrder))
	for i, k := range attnOrder {
		for _, v := range r.Weights[k] {
			w[i] = append(w[i], float32(v))
		}
	}
	p.SetWeights(w)
	p.Mean, p.Std = r.Mean, r.Std
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return &r, p
}

func closeTo(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*(1+math.Abs(want[i])) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %v, PyTorch %v", what, i, got[i], want[i])
		}
	}
}

// The pure-Go forward and attention maps equal PyTorch's (multi_head_attention_forward,
// layer_norm) on the reference case, group decoding included (5 labels, 2 queries).
func TestAttentionPureGoMatchesPyTorch(t *testing.T) {
	t.Parallel()
	r, p := loadAttnRef(t)
	closeTo(t, "logits", p.Logits(r.X, r.N), r.Logits, 1e-5)
	maps, err := p.AttentionMaps(r.X, r.N)
	if err != nil {
		t.Fatal(err)
	}
	for i := range maps {
		for j := range maps[i] {
			q := j / r.Group
			closeTo(t, "attention", maps[i][j], r.Attention[(i*r.Queries+q)*r.Tokens:(i*r.Queries+q+1)*r.Tokens], 1e-5)
		}
	}
	if _, err := (&Params{Kind: Linear, In: 2, Out: 1, W1: []float32{1, 1}, B1: []float32{0}}).AttentionMaps(make([]float32, 2), 1); err == nil {
		t.Error("AttentionMaps of a linear head: no error")
	}
	if _, err := p.AttentionMaps(r.X[1:], r.N); err == nil {
		t.Error("AttentionMaps with a wrong size: no error")
	}
}

// attnBackends are the training backends the graph is checked on: pure Go always, ONNX
// Runtime when its library is found (required with MULTILABEL_REQUIRE_ORT=1).
func attnBackends(t *testing.T) map[string]compute.Backend {
	t.Helper()
	bs := map[string]compute.Backend{"go": gobackend.GetBackend()}
	c, err := backends.Select(backends.ONNX, backends.Options{})
	switch {
	case err == nil:
		bs["onnx"] = c.Backend
	case errors.Is(err, ort.ErrNoLibrary) && os.Getenv("MULTILABEL_REQUIRE_ORT") == "":
		t.Logf("onnx backend skipped: %v", err)
	default:
		t.Fatalf("onnx backend: %v", err)
	}
	return bs
}

// The GoMLX graph gives PyTorch's logits, BCE loss and the gradient of every weight, on
// the go and onnx backends.
// Both orders of the key/value projections are checked (the reassociated one is used
// when queries × heads <= tokens).
func TestAttentionGraphMatchesPyTorch(t *testing.T) {
	r, p := loadAttnRef(t)
	if p.Attn.Queries*p.Attn.Heads > p.Tokens {
		t.Fatal("the reference case should take the reassociated order")
	}
	for _, std := range []bool{false, true} {
		standardAttention = std
		checkAttentionGraph(t, r, p)
	}
	standardAttention = false
}

func checkAttentionGraph(t *testing.T, r *attnRef, p *Params) {
	w, dims := p.Weights()
	for name, b := range attnBackends(t) {
		args := []any{tensors.FromFlatDataAndDimensions(p.Standardize(r.X, r.N), r.N, p.In),
			tensors.FromFlatDataAndDimensions(r.Y, r.N, r.Labels)}
		for i := range w {
			args = append(args, tensors.FromFlatDataAndDimensions(append([]float32(nil), w[i]...), dims[i]...))
		}
		out, err := ExecOnceN(b, func(g *Graph, in []*Node) []*Node {
			z := AttentionGraph(p, in[0], in[2:], AttnDrops{})
			y := in[1]
			l := ReduceAllMean(Add(Sub(Max(z, ZerosLike(z)), Mul(z, y)), Log1P(Exp(Neg(Abs(z))))))
			return append([]*Node{z, l}, Gradient(l, in[2:]...)...)
		}, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		closeTo(t, name+" logits", tensors.MustCopyFlatData[float32](out[0]), r.Logits, 1e-4)
		closeTo(t, name+" loss", tensors.MustCopyFlatData[float32](out[1]), []float64{r.Loss}, 1e-5)
		for i, k := range attnOrder {
			closeTo(t, name+" grad "+k, tensors.MustCopyFlatData[float32](out[2+i]), r.Grads[k], 1e-4)
		}
	}
}
