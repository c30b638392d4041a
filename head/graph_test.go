package head

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

type graphRef struct {
	Labels, Hidden, In, N int
	Tau, P                float64
	Y                     [][]int8
	Adj, E, B, V, X, R    []float32
	W, Logits             []float32
	GradE                 []float32 `json:"grad_e"`
	GradB                 []float32 `json:"grad_b"`
	GradV                 []float32 `json:"grad_v"`
}

func loadGraphRef(t *testing.T) graphRef {
	t.Helper()
	raw, err := os.ReadFile("testdata/graph.json")
	if err != nil {
		t.Fatal(err)
	}
	var r graphRef
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func near(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %v, want %v (PyTorch)", what, i, got[i], want[i])
		}
	}
}

// The label graph, the classifiers, the logits and the gradients of the graph head
// agree with PyTorch (testdata/gen_graph.py) on a tiny case with an isolated label, a
// label without positives and an unknown entry.
func TestGraphHeadMatchesTorch(t *testing.T) {
	t.Parallel()
	r := loadGraphRef(t)
	g, err := NewLabelGraph(r.Y, r.Tau, r.P)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "adjacency", g.Adj, r.Adj, 1e-6)
	if len(g.NoPositives) != 1 || g.NoPositives[0] != 4 {
		t.Errorf("labels without positives %v, want [4]", g.NoPositives)
	}
	for i := 0; i < r.Labels; i++ {
		var s float64
		for j := 0; j < r.Labels; j++ {
			s += float64(g.Adj[i*r.Labels+j])
		}
		if math.Abs(s-1) > 1e-6 {
			t.Errorf("adjacency row %d sums to %v, want 1", i, s)
		}
	}
	near(t, "classifiers (pure Go)", GraphClassifiers(g.Adj, r.E, r.V, r.Labels, r.Hidden, r.In), r.W, 1e-5)
	lin := GraphToLinear(g.Adj, [][]float32{r.E, r.B, r.V}, r.Labels, r.Hidden, r.In, nil, nil)
	if err := lin.Validate(); err != nil {
		t.Fatal(err)
	}
	near(t, "logits of the linear form", lin.Logits(r.X, r.N), r.Logits, 1e-5)

	args := []any{
		tensors.FromFlatDataAndDimensions(r.X, r.N, r.In),
		tensors.FromFlatDataAndDimensions(g.Adj, r.Labels, r.Labels),
		tensors.FromFlatDataAndDimensions(r.E, r.Labels, r.Hidden),
		tensors.FromFlatDataAndDimensions(r.B, r.Labels),
		tensors.FromFlatDataAndDimensions(r.V, r.Hidden, r.In),
		tensors.FromFlatDataAndDimensions(r.R, r.N, r.Labels),
	}
	out, err := graph.ExecOnceN(gobackend.GetBackend(), func(gr *graph.Graph, in []*graph.Node) []*graph.Node {
		logits := GraphForwardGraph(in[0], in[1], in[2], in[3], in[4])
		obj := graph.ReduceAllSum(graph.Mul(logits, in[5]))
		grads := graph.Gradient(obj, in[2], in[3], in[4])
		return append([]*graph.Node{logits}, grads...)
	}, args...)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "logits (GoMLX)", tensors.MustCopyFlatData[float32](out[0]), r.Logits, 1e-5)
	near(t, "dE", tensors.MustCopyFlatData[float32](out[1]), r.GradE, 1e-5)
	near(t, "db", tensors.MustCopyFlatData[float32](out[2]), r.GradB, 1e-5)
	near(t, "dV", tensors.MustCopyFlatData[float32](out[3]), r.GradV, 1e-5)
}

func TestLabelGraphBadInput(t *testing.T) {
	t.Parallel()
	y := [][]int8{{1, 0}, {1, 1}}
	for name, c := range map[string]struct {
		y      [][]int8
		tau, p float64
	}{
		"no rows":      {nil, 0.4, 0.2},
		"tau > 1":      {y, 1.5, 0.2},
		"tau NaN":      {y, math.NaN(), 0.2},
		"p = 1":        {y, 0.4, 1},
		"ragged":       {[][]int8{{1, 0}, {1}}, 0.4, 0.2},
		"no label col": {[][]int8{{}}, 0.4, 0.2},
	} {
		if _, err := NewLabelGraph(c.y, c.tau, c.p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, _, err := GraphWeights(0, 4, 4, 1); err == nil {
		t.Error("GraphWeights with no labels: no error")
	}
}

func TestLabelGraphTooManyLabels(t *testing.T) {
	t.Parallel()
	y := [][]int8{make([]int8, MaxGraphLabels+1)}
	if _, err := NewLabelGraph(y, 0.4, 0.2); err == nil {
		t.Fatal("no error for more labels than MaxGraphLabels")
	}
}
