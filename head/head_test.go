package head

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

func randomHead(t *testing.T, kind string) *Params {
	t.Helper()
	p, err := New(kind, 12, 7, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 3))
	for _, b := range [][]float32{p.B1, p.B2} {
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
	}
	p.Mean = make([]float32, p.In)
	p.Std = make([]float32, p.In)
	for i := range p.Mean {
		p.Mean[i] = float32(rng.NormFloat64())
		p.Std[i] = float32(0.5 + rng.Float64())
	}
	return p
}

// The pure-Go forward equals the GoMLX graph forward.
func TestLogitsMatchGraph(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{Linear, MLP} {
		p := randomHead(t, kind)
		n := 9
		rng := rand.New(rand.NewPCG(4, 5))
		x := make([]float32, n*p.In)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * 3)
		}
		x[5] = 0
		got := p.Logits(x, n)
		w, dims := p.Weights()
		args := []any{tensors.FromFlatDataAndDimensions(p.Standardize(x, n), n, p.In)}
		for i := range w {
			args = append(args, tensors.FromFlatDataAndDimensions(w[i], dims[i]...))
		}
		out, err := ExecOnceN(gobackend.GetBackend(), func(g *Graph, in []*Node) []*Node {
			return []*Node{ForwardGraph(kind, in[0], in[1:], nil)}
		}, args...)
		if err != nil {
			t.Fatal(err)
		}
		want := tensors.MustCopyFlatData[float32](out[0])
		if len(want) != len(got) {
			t.Fatalf("%s: %d logits, graph %d", kind, len(got), len(want))
		}
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-5*(1+math.Abs(float64(want[i]))) {
				t.Errorf("%s: logit %d = %v, graph %v", kind, i, got[i], want[i])
			}
		}
		if _, err := p.Forward(x[:len(x)-1], n); err == nil {
			t.Errorf("%s: Forward accepted a short feature slice", kind)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	p := randomHead(t, MLP)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q Params
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2*p.In)
	for i := range x {
		x[i] = float32(i) / 7
	}
	a, c := p.Logits(x, 2), q.Logits(x, 2)
	for i := range a {
		if a[i] != c[i] {
			t.Fatalf("logits differ after JSON round trip: %v vs %v", a, c)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if _, err := New("cnn", 3, 0, 2, 0); err == nil {
		t.Error("New accepted an unknown kind")
	}
	if _, err := New(MLP, 3, 0, 2, 0); err == nil {
		t.Error("New accepted an mlp without hidden units")
	}
	p := randomHead(t, Linear)
	bad := []func(q *Params){
		func(q *Params) { q.W1 = q.W1[1:] },
		func(q *Params) { q.B1[0] = float32(math.NaN()) },
		func(q *Params) { q.Std[2] = 0 },
		func(q *Params) { q.Kind = "x" },
		func(q *Params) { q.W2 = []float32{1} },
	}
	for i, f := range bad {
		q := p.Clone()
		f(q)
		if q.Validate() == nil {
			t.Errorf("case %d: Validate accepted a malformed head", i)
		}
	}
	if p.Validate() != nil {
		t.Error("Clone shares memory with the original")
	}
}
