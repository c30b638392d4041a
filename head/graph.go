package head

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/core/graph"
)

// GraphHead is the label-graph head, a training-time parametrisation of the linear head in
// the manner of ML-GCN (Chen et al., CVPR 2019): the per-label classifier vectors are
// not free weights but the output of two graph convolutions over a label graph built
// from the training labels' co-occurrence,
//
//	H = LeakyReLU(Â · E)         E  [labels × hidden]: one learned embedding per label
//	W = Â · H · V                V  [hidden × in]: shared projection to feature space
//	logits = x · Wᵀ + b          b  [labels]: per-label bias
//
// Â is [LabelGraph.Adj]. The graph's node inputs are one-hot (identity) vectors, there
// being no word embeddings of the labels here, so the first convolution's weight E is
// simply a learned per-label embedding. Labels that go together are pulled towards
// similar classifiers, because each label's classifier mixes its neighbours' nodes.
//
// After training W is a plain [labels × in] matrix: the trained head is stored, exported
// and served as a [Linear] head ([GraphToLinear]); how it was trained is recorded next
// to it (the training configuration and the label graph).
const GraphHead = "graph"

// LabelGraph is the label graph of the graph head: the ML-GCN correlation matrix built
// from positive-label co-occurrence in a set of training labels.
//
// With N_i the images where label i is positive and M_ij those where i and j both are,
// P(j|i) = M_ij / N_i. The binary graph links i to j (i ≠ j) when P(j|i) ≥ Tau and
// M_ij > 0 (so Tau 0 links every co-occurring pair); each
// linked row is then re-weighted (ML-GCN's scheme against over-smoothing) to give the
// label itself weight 1-P and spread P evenly over its k neighbours: Adj_ii = 1-P,
// Adj_ij = P/k. A label without neighbours (among them a label with no positive
// image, whose P(·|i) is undefined) keeps only its self-loop, Adj_ii = 1: its
// classifier is learnt alone, as in a linear head. Rows of Adj sum to 1.
type LabelGraph struct {
	Labels int     `json:"labels"`
	Tau    float64 `json:"tau"`
	P      float64 `json:"p"`
	// Adj is the [Labels × Labels] row-major re-weighted adjacency, self-loops included
	// (pipeline's training record drops it above 256 labels).
	Adj []float32 `json:"adj"`
	// Positives are the N_i; Edges the number of links (i → j, i ≠ j).
	Positives []int `json:"positives"`
	Edges     int   `json:"edges"`
	// Isolated lists the labels with no neighbour; NoPositives those (a subset) with
	// no positive training image.
	Isolated    []int `json:"isolated,omitempty"`
	NoPositives []int `json:"no_positives,omitempty"`
}

// MaxGraphLabels bounds the graph head's label count: it keeps Â dense (Labels² values,
// 64 MB at the bound, and Labels² · width multiply-adds a step).
const MaxGraphLabels = 4096

// NewLabelGraph builds the label graph of labels y (rows of 1 positive, 0 negative, -1
// unknown; unknown entries count as not positive) with threshold tau in [0, 1] and
// re-weighting p in [0, 1).
func NewLabelGraph(y [][]int8, tau, p float64) (*LabelGraph, error) {
	if len(y) == 0 || len(y[0]) == 0 {
		return nil, fmt.Errorf("head: graph: no labels to build the label graph from")
	}
	if !(tau >= 0 && tau <= 1) {
		return nil, fmt.Errorf("head: graph: threshold tau %v must be in [0, 1]", tau)
	}
	if !(p >= 0 && p < 1) {
		return nil, fmt.Errorf("head: graph: re-weighting p %v must be in [0, 1)", p)
	}
	L := len(y[0])
	if L > MaxGraphLabels {
		return nil, fmt.Errorf("head: graph: %d labels, the graph head supports at most %d (its label graph is dense); use the linear or mlp head", L, MaxGraphLabels)
	}
	pos := make([]int, L)
	both := make([]int, L*L)
	var on []int
	for r, row := range y {
		if len(row) != L {
			return nil, fmt.Errorf("head: graph: labels row %d has %d values, want %d", r, len(row), L)
		}
		on = on[:0]
		for j, v := range row {
			if v == 1 {
				on = append(on, j)
			}
		}
		for _, i := range on {
			pos[i]++
			for _, j := range on {
				both[i*L+j]++
			}
		}
	}
	g := &LabelGraph{Labels: L, Tau: tau, P: p, Adj: make([]float32, L*L), Positives: pos}
	for i := 0; i < L; i++ {
		var nb []int
		if pos[i] > 0 {
			for j := 0; j < L; j++ {
				if j != i && float64(both[i*L+j])/float64(pos[i]) >= tau && both[i*L+j] > 0 {
					nb = append(nb, j)
				}
			}
		} else {
			g.NoPositives = append(g.NoPositives, i)
		}
		if len(nb) == 0 {
			g.Adj[i*L+i] = 1
			g.Isolated = append(g.Isolated, i)
			continue
		}
		g.Edges += len(nb)
		g.Adj[i*L+i] = float32(1 - p)
		for _, j := range nb {
			g.Adj[i*L+j] = float32(p / float64(len(nb)))
		}
	}
	return g, nil
}

// GraphWeights returns freshly initialised graph-head weights for labels, hidden and in
// (the feature dimension), in training order: E [labels][hidden], b [labels],
// V [hidden][in]. E is uniform in ±1 (the PyTorch nn.Linear default for its one-hot,
// fan-in 1 input), V uniform in ±1/sqrt(hidden·in): the initial classifiers then have
// about the linear head's initial scale on standardised features. b is zero.
func GraphWeights(labels, hidden, in int, seed uint64) (w [][]float32, dims [][]int, err error) {
	if labels <= 0 || hidden <= 0 || in <= 0 {
		return nil, nil, fmt.Errorf("head: graph: labels %d, hidden %d and input dim %d must be positive", labels, hidden, in)
	}
	rng := rand.New(rand.NewPCG(seed, 0x6865616400000002))
	uniform := func(n int, b float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32((rng.Float64()*2 - 1) * b)
		}
		return v
	}
	e := uniform(labels*hidden, 1)
	v := uniform(hidden*in, 1/math.Sqrt(float64(hidden)*float64(in)))
	return [][]float32{e, make([]float32, labels), v}, [][]int{{labels, hidden}, {labels}, {hidden, in}}, nil
}

// graphSlope is the negative slope of the LeakyReLU between the convolutions (ML-GCN's).
const graphSlope = 0.2

// GraphClassifiers is the pure-Go graph convolution: W = Â · LeakyReLU(Â · E) · V, the
// [labels][in] row-major classifier matrix, for adj [L][L], e [L][hidden], v [hidden][in].
func GraphClassifiers(adj, e, v []float32, labels, hidden, in int) []float32 {
	h := matmul(adj, e, labels, labels, hidden)
	for i, x := range h {
		if x < 0 {
			h[i] = graphSlope * x
		}
	}
	return matmul(adj, matmul(h, v, labels, hidden, in), labels, labels, in)
}

// matmul returns a[n][k] · b[k][m].
func matmul(a, b []float32, n, k, m int) []float32 {
	out := make([]float32, n*m)
	for i := 0; i < n; i++ {
		o := out[i*m : (i+1)*m]
		for t := 0; t < k; t++ {
			x := a[i*k+t]
			if x == 0 {
				continue
			}
			for j, y := range b[t*m : (t+1)*m] {
				o[j] += x * y
			}
		}
	}
	return out
}

// GraphToLinear returns the linear head equal to graph-head weights w (E, b, V, as from
// [GraphWeights]) over graph adj: W1 = Wᵀ [in][labels], B1 = b, with the standardisation
// mean and std (may be nil).
func GraphToLinear(adj []float32, w [][]float32, labels, hidden, in int, mean, std []float32) *Params {
	wc := GraphClassifiers(adj, w[0], w[2], labels, hidden, in)
	w1 := make([]float32, in*labels)
	for l := 0; l < labels; l++ {
		for c := 0; c < in; c++ {
			w1[c*labels+l] = wc[l*in+c]
		}
	}
	return &Params{Kind: Linear, In: in, Out: labels, W1: w1, B1: append([]float32(nil), w[1]...),
		Mean: mean, Std: std}
}

// GraphForwardGraph builds the graph head in GoMLX on standardised features x [n, in]:
// adj [L, L] (a constant), e [L, hidden], b [L], v [hidden, in]; it returns the logits
// [n, L].
func GraphForwardGraph(x, adj, e, b, v *graph.Node) *graph.Node {
	w := GraphClassifiersGraph(adj, e, v)
	return graph.Add(graph.DotGeneral(x, []int{1}, nil, w, []int{1}, nil), graph.ExpandAxes(b, 0))
}

// GraphClassifiersGraph is [GraphClassifiers] in GoMLX: W [L, in].
func GraphClassifiersGraph(adj, e, v *graph.Node) *graph.Node {
	h := graph.MatMul(adj, e)
	h = graph.Max(h, graph.MulScalar(h, graphSlope))
	return graph.MatMul(adj, graph.MatMul(h, v))
}
