package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/headparams"
	"github.com/multilabel/multilabel/internal/backends"
	"github.com/multilabel/multilabel/internal/loop"
	"github.com/multilabel/multilabel/internal/optim"
	"github.com/multilabel/multilabel/loss"
	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/sampler"
)

// Epoch is one line of the training history.
type Epoch struct {
	Epoch     int     `json:"epoch"`      // 1-based
	TrainLoss float64 `json:"train_loss"` // mean over the epoch's known label entries
	// Validation loss and mAP of the raw weights and of their EMA (the EMA fields
	// equal the raw ones when EMA is off). All are 0 without a validation set; the
	// mAPs are 0 when the validation set has no known positive.
	ValLoss    float64 `json:"val_loss"`
	ValMAP     float64 `json:"val_map"`
	ValLossEMA float64 `json:"val_loss_ema"`
	ValMAPEMA  float64 `json:"val_map_ema"`
	LR         float64 `json:"lr"`      // learning rate of the epoch's last step
	Seconds    float64 `json:"seconds"` // wall time of the epoch (training + validation)
	Best       bool    `json:"best"`    // this epoch gave the best validation mAP so far
}

// Callbacks report progress; nil fields are skipped. They run on Fit's goroutine
// and should return quickly. To stop training, cancel Fit's context.
type Callbacks struct {
	// OnEpoch is called after each epoch (after its checkpoint is written).
	OnEpoch func(Epoch)
	// OnStep is called after each optimisation step: step counts from 1 to total
	// over the whole run (steps skipped by early stopping are never reached).
	OnStep func(step, total int)
}

// Result is a trained head with its training record.
type Result struct {
	// Head is the selected head: the weights (raw or EMA) of the epoch with the best
	// validation mAP, or the last epoch's weights (EMA when on) without validation.
	// It includes the training-set standardisation.
	Head         head.Params `json:"head"`
	History      []Epoch     `json:"history"`
	BestEpoch    int         `json:"best_epoch"` // 1-based epoch of Head
	BestValMAP   float64     `json:"best_val_map"`
	UsedEMA      bool        `json:"used_ema"` // Head holds EMA weights
	StoppedEarly bool        `json:"stopped_early"`
	Steps        int         `json:"steps"` // optimisation steps run
	// Config is the configuration used (defaults filled in); Loss the loss
	// configuration, with the positive weights used by the weighted loss.
	Config Config      `json:"config"`
	Loss   loss.Config `json:"loss"`
	// Graph is the graph head's label graph (Config.Head "graph"; Head is then the
	// equivalent linear head), else nil.
	Graph *head.LabelGraph `json:"graph,omitempty"`
	// Resumed tells that the run continued from a checkpoint.
	Resumed bool `json:"resumed,omitempty"`
	// Backend is the training backend used (e.g. "onnx (/path/libonnxruntime.so.1)"),
	// BackendReason why it was chosen.
	Backend       string `json:"backend,omitempty"`
	BackendReason string `json:"backend_reason,omitempty"`
}

// Fit trains a head on training features trX (n rows of dim float32, row-major) with
// labels trY (n rows, one value per class: 1 positive, 0 negative, -1 unknown), and
// validates each epoch on vaX/vaY (may be empty: then there is no model selection
// and no early stopping). Unknown labels add nothing to the loss.
//
// Fit is deterministic: the same configuration (Seed included) and data give the
// same history and head. It returns ctx.Err() when ctx is cancelled; with a
// Checkpoint set, the run can then be resumed (Config.Resume) to the same result.
// Bad input (sizes, label values, non-finite features, configuration) is reported
// as an error, never a panic.
func Fit(ctx context.Context, cfg Config, trX []float32, trY [][]int8, vaX []float32, vaY [][]int8, dim int, cb Callbacks) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("train: internal error: %v", r)
		}
	}()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.resolved()
	t, err := newTrainer(cfg, trX, nil, trY, vaX, vaY, dim)
	if err != nil {
		return nil, err
	}
	defer t.close()
	return t.run(ctx, cb)
}

// checkData validates features and labels; it returns the class count.
func checkData(name string, x []float32, y [][]int8, dim, classes int) (int, error) {
	if len(x) != len(y)*dim {
		return 0, fmt.Errorf("train: %s features have %d values, want %d rows × dim %d = %d", name, len(x), len(y), dim, len(y)*dim)
	}
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("train: %s features row %d, column %d is %v", name, i/dim, i%dim, v)
		}
	}
	for i, row := range y {
		if classes < 0 {
			classes = len(row)
		}
		if len(row) != classes {
			return 0, fmt.Errorf("train: %s labels row %d has %d values, want %d (one per class)", name, i, len(row), classes)
		}
		for j, v := range row {
			if v < -1 || v > 1 {
				return 0, fmt.Errorf("train: %s labels row %d, class %d is %d, want 1, 0 or -1", name, i, j, v)
			}
		}
	}
	return classes, nil
}

type trainer struct {
	cfg                 Config
	lc                  loss.Config
	n, nv, dim, classes int
	batch               int
	x, vx               []float32 // standardised features
	trY                 [][]int8  // training labels
	vy, vm              []float32 // validation targets and known-masks
	vaY                 [][]int8
	init                *head.Params // initial head: kind, sizes, standardisation
	dims                [][]int
	fingerprint         uint64
	graph               *head.LabelGraph // graph head: its label graph, else nil

	backend    compute.Backend
	choice     backends.Choice
	stepExec   *graph.Exec
	evalExec   *graph.Exec
	posw       *tensors.Tensor
	vxT, vyT   *tensors.Tensor
	vmT        *tensors.Tensor
	params     []*tensors.Tensor
	mom, vel   []*tensors.Tensor
	ema        []*tensors.Tensor
	hasEMA     bool
	hasDropout bool
	dropShapes [][]int // shapes of the step's dropout masks (MLP: one; attention: three)
	// spatial marks heads on the spatial map (attention, GeM): their weights keep the
	// head.Params layout, and the attention head's map is standardised batch by batch.
	spatial bool

	order   *sampler.Sampler
	lengths []int // per epoch (index epoch-1): rows visited

	src  *streamSource   // streamed training rows (FitRows), else nil and x holds them
	rawX *tensors.Tensor // the minibatch input of a streamed run given as stored (RawRows)
}

// newTrainer sets up a run on the training features trX, or when src is not nil on the
// rows of src (streamed: standardised a batch at a time).
func newTrainer(cfg Config, trX []float32, src *streamSource, trY [][]int8, vaX []float32, vaY [][]int8, dim int) (*trainer, error) {
	if dim <= 0 {
		return nil, fmt.Errorf("train: feature dim %d must be positive", dim)
	}
	if len(trY) == 0 {
		return nil, errors.New("train: no training rows")
	}
	checkX, checkDim := trX, dim
	if src != nil {
		checkX, checkDim = nil, 0 // the rows are checked while their moments are streamed
	}
	classes, err := checkData("training", checkX, trY, checkDim, -1)
	if err != nil {
		return nil, err
	}
	if classes == 0 {
		return nil, errors.New("train: labels have no classes")
	}
	if _, err := checkData("validation", vaX, vaY, dim, classes); err != nil {
		return nil, err
	}
	choice, err := backends.Select(cfg.Backend, backends.Options{ORTLib: cfg.ORTLib})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	t := &trainer{cfg: cfg, n: len(trY), nv: len(vaY), dim: dim, classes: classes, vaY: vaY,
		backend: choice.Backend, choice: choice}
	t.batch = min(cfg.BatchSize, t.n)
	if err := t.newSampler(trY); err != nil {
		return nil, err
	}
	t.lc = cfg.lossConfig()
	if t.lc.Kind == loss.Weighted && t.lc.PosWeight == nil {
		t.lc.PosWeight = loss.PosWeights(trY, classes, t.lc.MaxPosWeight)
	}
	if t.lc.Kind == loss.DB && t.lc.ClassCounts == nil {
		t.lc.ClassCounts, t.lc.ClassKnown = loss.ClassCounts(trY, classes)
	}
	if err := t.lc.Validate(classes); err != nil {
		return nil, err
	}
	kind := cfg.Head
	if kind == head.GraphHead {
		kind = head.Linear // the graph head's trained form (head.GraphToLinear)
	}
	hc := cfg
	hc.Head = kind
	p, err := hc.newHead(dim, classes)
	if err != nil {
		return nil, err
	}
	t.spatial = p.Spatial()
	if cfg.Head == head.GraphHead {
		if t.graph, err = head.NewLabelGraph(trY, cfg.GraphTau, cfg.GraphP); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	if cfg.Init != nil {
		q := cfg.Init.Clone()
		q.Mean, q.Std = nil, nil
		if err := q.Validate(); err != nil {
			return nil, fmt.Errorf("train: initial head: %w", err)
		}
		if q.Kind != p.Kind || q.In != p.In || q.Hidden != p.Hidden || q.Out != p.Out || q.Pool != p.Pool || q.Channels != p.Channels {
			return nil, fmt.Errorf("train: initial head is %s %d→%d→%d, want %s %d→%d→%d",
				q.Kind, q.In, q.Hidden, q.Out, p.Kind, p.In, p.Hidden, p.Out)
		}
		p = q
	}
	switch {
	case src != nil && t.spatial:
		return nil, errors.New("train: FitRows: heads on the spatial map (attention, gem) train from memory (Fit)")
	case t.spatial && !cfg.NoStandardize:
		p.Mean, p.Std = spatialMoments(p, trX, t.n)
	case src != nil:
		var sum []float64 // the check pass also sums the columns, when they are standardised
		if !cfg.NoStandardize {
			sum = make([]float64, dim)
		}
		if err := src.check(t.n, dim, sum); err != nil {
			return nil, err
		}
		if sum != nil {
			p.Mean, p.Std = src.moments(t.n, dim, sum)
		}
		t.src = src
	case !cfg.NoStandardize:
		p.Mean, p.Std = moments(trX, t.n, dim)
	}
	t.init = p
	switch {
	case p.Kind == head.Attention:
		t.x = trX // standardised batch by batch (a copy of the maps would double the memory)
	case src == nil:
		t.x = p.Standardize(trX, t.n)
	}
	t.vx = p.Standardize(vaX, t.nv)
	t.trY = trY // targets and masks are made a minibatch at a time (4 bytes a value each)
	t.vy, t.vm = loss.TargetsAndMask(vaY, classes)
	w0, dims := p.Weights()
	if t.graph != nil {
		if w0, dims, err = head.GraphWeights(classes, cfg.GraphHidden, dim, cfg.Seed); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	t.fingerprint = fingerprint(cfg, t.lc, dim, trX, trY, vaX, vaY, w0)
	t.hasEMA = cfg.EMA > 0
	if cfg.Dropout > 0 {
		switch cfg.Head {
		case head.MLP:
			t.dropShapes = [][]int{{t.batch, cfg.Hidden}}
		case head.Attention:
			a := p.Attn
			t.dropShapes = [][]int{{t.batch, a.Queries, a.Dim}, {t.batch, a.Queries, a.FFN}, {t.batch, a.Queries, a.Dim}}
		}
	}
	t.hasDropout = len(t.dropShapes) > 0

	pw := t.lc.PosWeight
	if pw == nil {
		pw = make([]float32, classes)
		for i := range pw {
			pw[i] = 1
		}
	}
	t.posw = tensors.FromFlatDataAndDimensions(pw, classes)
	if t.nv > 0 {
		t.vxT = tensors.FromFlatDataAndDimensions(t.vx, t.nv, dim)
		t.vyT = tensors.FromFlatDataAndDimensions(t.vy, t.nv, classes)
		t.vmT = tensors.FromFlatDataAndDimensions(t.vm, t.nv, classes)
	}
	w := w0
	t.dims = dims
	if t.graph == nil && p.Kind != head.Attention { // the graph and attention heads keep their own layout
		t.dims = internalDims(dims)
		w = toInternal(w0, dims)
	}
	t.stepExec, err = graph.NewExec(t.backend, t.stepGraph)
	if err != nil {
		return nil, fmt.Errorf("train: building the training step: %w", err)
	}
	t.evalExec, err = graph.NewExec(t.backend, t.evalGraph)
	if err != nil {
		return nil, fmt.Errorf("train: building the evaluation: %w", err)
	}
	zeros := make([][]float32, len(w))
	for i := range w {
		zeros[i] = make([]float32, len(w[i]))
	}
	t.setState(w, zeros, zeros, w)
	return t, nil
}

func (t *trainer) close() {
	t.stepExec.Finalize()
	t.evalExec.Finalize()
	if t.rawX != nil {
		t.rawX.MustFinalizeAll()
	}
}

// moments returns the per-column mean and standard deviation (1 for constant columns).
func moments(x []float32, n, dim int) (mean, std []float32) {
	s := make([]float64, dim)
	s2 := make([]float64, dim)
	for i := 0; i < n; i++ {
		for k, v := range x[i*dim : (i+1)*dim] {
			s[k] += float64(v)
		}
	}
	mean = make([]float32, dim)
	for k := range s {
		s[k] /= float64(n)
		mean[k] = float32(s[k])
	}
	for i := 0; i < n; i++ {
		for k, v := range x[i*dim : (i+1)*dim] {
			d := float64(v) - s[k]
			s2[k] += d * d
		}
	}
	std = make([]float32, dim)
	for k := range s2 {
		sd := math.Sqrt(s2[k] / float64(n))
		if sd < 1e-6 {
			sd = 1
		}
		std[k] = float32(sd)
	}
	return mean, std
}

func tensorsOf(w [][]float32, dims [][]int) []*tensors.Tensor {
	out := make([]*tensors.Tensor, len(w))
	for i := range w {
		out[i] = tensors.FromFlatDataAndDimensions(append([]float32(nil), w[i]...), dims[i]...)
	}
	return out
}

func sizeOf(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

func slicesOf(ts []*tensors.Tensor) [][]float32 {
	out := make([][]float32, len(ts))
	for i, t := range ts {
		out[i] = tensors.MustCopyFlatData[float32](t)
	}
	return out
}

// The trainer stores weight matrices transposed, [out][in] (biases as they are): the
// forward pass then contracts the feature axis of both operands, and the weight
// gradients come out in that layout without a transpose (a large share of a step on
// the pure-Go backend).
func internalDims(dims [][]int) [][]int {
	out := make([][]int, len(dims))
	for i, d := range dims {
		out[i] = append([]int(nil), d...)
		if len(d) == 2 {
			out[i][0], out[i][1] = d[1], d[0]
		}
	}
	return out
}

// transpose returns the [cols][rows] transpose of m [rows][cols].
func transpose(m []float32, rows, cols int) []float32 {
	out := make([]float32, len(m))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			out[c*rows+r] = m[r*cols+c]
		}
	}
	return out
}

// toInternal converts head.Params weights (dims in Params layout) to the internal layout.
func toInternal(w [][]float32, dims [][]int) [][]float32 {
	out := make([][]float32, len(w))
	for i := range w {
		out[i] = w[i]
		if len(dims[i]) == 2 {
			out[i] = transpose(w[i], dims[i][0], dims[i][1])
		}
	}
	return out
}

// fromInternal converts internal-layout weights (dims in internal layout) to head.Params layout.
func fromInternal(w [][]float32, dims [][]int) [][]float32 { return toInternal(w, dims) }

// forward is head.ForwardGraph on the internal (transposed) weight layout, or the
// attention head's graph, or a GeM head's pooling then its dense layers.
func (t *trainer) forward(x *graph.Node, w []*graph.Node, drop []*graph.Node) *graph.Node {
	if t.init.Kind == head.Attention {
		var d head.AttnDrops
		if len(drop) == 3 {
			d = head.AttnDrops{Attn: drop[0], FFN: drop[1], Out: drop[2]}
		}
		return head.AttentionGraph(t.init, x, w, d)
	}
	if t.init.Pool != "" {
		var gp *graph.Node
		if t.init.Pool == head.PoolGeM {
			gp = w[len(w)-1]
		}
		x = head.PoolGraph(t.init, x, gp)
		if len(t.init.Mean) > 0 {
			g := x.Graph()
			wd := t.init.Width()
			mean := graph.Const(g, tensors.FromFlatDataAndDimensions(append([]float32(nil), t.init.Mean...), 1, wd))
			std := graph.Const(g, tensors.FromFlatDataAndDimensions(append([]float32(nil), t.init.Std...), 1, wd))
			x = graph.Div(graph.Sub(x, mean), std)
		}
	}
	dense := func(x, w, b *graph.Node) *graph.Node {
		return graph.Add(graph.DotGeneral(x, []int{1}, nil, w, []int{1}, nil), graph.ExpandAxes(b, 0))
	}
	if t.graph != nil {
		adj := graph.Reshape(graph.Const(x.Graph(), t.graph.Adj), t.classes, t.classes)
		return head.GraphForwardGraph(x, adj, w[0], w[1], w[2])
	}
	h := dense(x, w[0], w[1])
	if t.cfg.Head != head.MLP {
		return h
	}
	h = graph.Max(h, graph.ZerosLike(h))
	if len(drop) > 0 {
		h = graph.Mul(h, drop[0])
	}
	return dense(h, w[2], w[3])
}

func (t *trainer) setState(p, m, v, e [][]float32) {
	t.params, t.mom, t.vel = tensorsOf(p, t.dims), tensorsOf(m, t.dims), tensorsOf(v, t.dims)
	if t.hasEMA {
		t.ema = tensorsOf(e, t.dims)
	}
}

// headFrom returns a head.Params holding weights w (graph order) and the standardisation.
func (t *trainer) headFrom(w [][]float32) head.Params {
	if t.graph != nil {
		return *head.GraphToLinear(t.graph.Adj, w, t.classes, t.cfg.GraphHidden, t.dim, clone(t.init.Mean), clone(t.init.Std))
	}
	p := t.init.Clone()
	if p.Kind != head.Attention {
		w = fromInternal(w, t.dims)
	}
	p.SetWeights(w)
	return *p
}

// Inputs of the step graph, in order.
const (
	inX = iota
	inY
	inMask
	inPosW
	inLR
	inBC1
	inBC2
	inEMA
	inFixed // first optional input
)

func (t *trainer) nw() int { return len(t.dims) }

// frozen reports whether weight j stays as initialised (an attention head's fixed
// queries); the graph head's weights are its own list, none frozen.
func (t *trainer) frozen(j int) bool { return t.graph == nil && t.init.Frozen(j) }

// noDecay reports whether weight j is kept out of weight decay: the head's biases (for
// the graph head, by its own weight order, head.IsBias).
func (t *trainer) noDecay(j int) bool {
	if t.graph != nil {
		return head.IsBias(j)
	}
	return t.init.NoDecay(j)
}

// stepGraph is one AdamW step: forward, loss, gradients, clipping, update, EMA.
// Outputs: loss, gradient norm, then new params, first moments, second moments and
// (with EMA) averaged params.
func (t *trainer) stepGraph(g *graph.Graph, in []*graph.Node) []*graph.Node {
	cfg := t.cfg
	i := inFixed
	var drop []*graph.Node
	if t.hasDropout {
		drop = in[i : i+len(t.dropShapes)]
		i += len(t.dropShapes)
	}
	nw := t.nw()
	P, M, V := in[i:i+nw], in[i+nw:i+2*nw], in[i+2*nw:i+3*nw]
	x := in[inX]
	if t.src != nil && t.src.raw != nil {
		x = standardizeGraph(x, t.init)
	}
	logits := t.forward(x, P, drop)
	l := loss.Masked(t.lc, logits, in[inY], in[inMask], in[inPosW])
	grads := graph.Gradient(l, P...)
	for j := range grads {
		if t.frozen(j) {
			grads[j] = graph.ZerosLike(grads[j]) // kept out of the clipping norm too
		}
	}
	grads, norm := optim.ClipByGlobalNorm(l, grads, cfg.ClipNorm)
	lr, bc1, bc2 := in[inLR], in[inBC1], in[inBC2]
	newP := make([]*graph.Node, nw)
	newM := make([]*graph.Node, nw)
	newV := make([]*graph.Node, nw)
	stepSize := graph.Div(lr, bc1)
	sqrtBC2 := graph.Sqrt(bc2)
	adam := optim.AdamW{Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.AdamEps}
	for j := range P {
		if t.frozen(j) {
			newP[j], newM[j], newV[j] = graph.Identity(P[j]), graph.Identity(M[j]), graph.Identity(V[j])
			continue
		}
		decay := 0.0
		if !t.noDecay(j) {
			decay = cfg.WeightDecay
		}
		newP[j], newM[j], newV[j] = adam.Step(P[j], grads[j], M[j], V[j], lr, stepSize, sqrtBC2, decay)
	}
	out := []*graph.Node{l, norm}
	out = append(out, newP...)
	out = append(out, newM...)
	out = append(out, newV...)
	if t.hasEMA {
		E := in[i+3*nw : i+4*nw]
		d := in[inEMA]
		for j := range E {
			if t.frozen(j) {
				out = append(out, graph.Identity(E[j])) // exactly as initialised
				continue
			}
			out = append(out, graph.Add(graph.Mul(E[j], d), graph.Mul(newP[j], graph.OneMinus(d))))
		}
	}
	return out
}

// evalGraph: inputs x, y, mask, posw, params...; outputs logits and loss.
func (t *trainer) evalGraph(g *graph.Graph, in []*graph.Node) []*graph.Node {
	logits := t.forward(in[0], in[4:], nil)
	return []*graph.Node{logits, loss.Masked(t.lc, logits, in[1], in[2], in[3])}
}

// evaluate returns the validation loss and mAP of weights w.
func (t *trainer) evaluate(w []*tensors.Tensor) (lossV, mAP float64, err error) {
	args := []any{t.vxT, t.vyT, t.vmT, t.posw}
	for _, x := range w {
		args = append(args, x)
	}
	out, err := t.evalExec.Exec(args...)
	if err != nil {
		return 0, 0, fmt.Errorf("train: validation: %w", err)
	}
	logits := tensors.MustCopyFlatData[float32](out[0])
	lossV = float64(tensors.ToScalar[float32](out[1]))
	for _, o := range out {
		o.MustFinalizeAll()
	}
	scores := make([][]float32, t.nv)
	for i := range scores {
		scores[i] = logits[i*t.classes : (i+1)*t.classes]
	}
	mAP, _, _ = metric.MeanAP(scores, t.vaY)
	if math.IsNaN(mAP) {
		mAP = 0
	}
	return lossV, mAP, nil
}

// freeBatch releases the per-step input tensors (batch data and dropout mask).
func (t *trainer) freeBatch(args []any) {
	idx := []int{inY, inMask}
	if t.rawX == nil { // else the trainer's, reused from step to step
		idx = append(idx, inX)
	}
	for k := range t.dropShapes {
		idx = append(idx, inFixed+k)
	}
	for _, k := range idx {
		args[k].(*tensors.Tensor).MustFinalizeAll()
	}
}

// runState is everything a checkpoint must hold besides the weights.
type runState struct {
	Epoch     int // completed epochs
	Step      int // completed steps
	History   []Epoch
	Best      *head.Params
	BestEpoch int
	BestMAP   float64
	BestEMA   bool
	SinceBest int
	Done      bool
	Stopped   bool
}

// stepBufs are the host buffers of one training batch, reused across steps.
type stepBufs struct {
	x, y, m []float32
	drop    [][]float32 // one per dropout mask
}

func (t *trainer) run(ctx context.Context, cb Callbacks) (*Result, error) {
	cfg := t.cfg
	total := t.totalSteps()
	var st runState
	resumed := false
	if cfg.Resume {
		ck, ok, err := loop.Resume("train", cfg.Checkpoint, loadCheckpoint, errNoCheckpoint,
			func(c *checkpoint) uint64 { return c.Fingerprint }, t.fingerprint)
		if err != nil {
			return nil, err
		}
		if ok {
			for i, w := range ck.Params {
				if len(w) != sizeOf(t.dims[i]) {
					return nil, fmt.Errorf("train: checkpoint %s: weight %d has %d values, want %d", cfg.Checkpoint, i, len(w), sizeOf(t.dims[i]))
				}
			}
			st = ck.State
			t.setState(ck.Params, ck.Mom, ck.Vel, ck.EMA)
			resumed = true
		}
	}

	bufs := &stepBufs{
		x: make([]float32, t.batch*t.dim),
		y: make([]float32, t.batch*t.classes),
		m: make([]float32, t.batch*t.classes),
	}
	for _, s := range t.dropShapes {
		bufs.drop = append(bufs.drop, make([]float32, sizeOf(s)))
	}
	// The shared epoch loop keeps the selection bookkeeping; runState (the checkpoint
	// layout) mirrors it after every epoch.
	ls := loop.State{Epoch: st.Epoch, HasBest: st.Best != nil, BestEpoch: st.BestEpoch, BestScore: st.BestMAP,
		SinceBest: st.SinceBest, Stopped: st.Stopped}
	var e Epoch
	var start time.Time
	var useEMA bool
	err := loop.Run(ctx, loop.Config{Epochs: cfg.Epochs, Patience: cfg.Patience}, &ls, loop.Hooks{
		Epoch: func(ctx context.Context, epoch int) (loop.Score, error) {
			start = time.Now()
			var err error
			if e, err = t.trainEpoch(ctx, epoch, &st, total, bufs, cb); err != nil {
				return loop.Score{}, err
			}
			if t.nv == 0 {
				return loop.Score{}, nil
			}
			var score float64
			if score, useEMA, err = t.validate(&e); err != nil {
				return loop.Score{}, err
			}
			return loop.Score{Value: score, OK: true}, nil
		},
		Best: func(epoch int) error {
			w := t.params
			if useEMA {
				w = t.ema
			}
			h := t.headFrom(slicesOf(w))
			st.Best, st.BestEMA = &h, useEMA
			e.Best = true
			return nil
		},
		End: func(epoch int, best bool, ls loop.State) error {
			st.Epoch, st.BestEpoch, st.BestMAP, st.SinceBest, st.Stopped = ls.Epoch, ls.BestEpoch, ls.BestScore, ls.SinceBest, ls.Stopped
			st.Done = ls.Done(cfg.Epochs)
			e.Seconds = time.Since(start).Seconds()
			st.History = append(st.History, e)
			if cfg.Checkpoint != "" {
				if err := t.saveCheckpoint(st); err != nil {
					return err
				}
			}
			if cb.OnEpoch != nil {
				cb.OnEpoch(e)
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}

	res := &Result{History: st.History, Steps: st.Step, Config: cfg, Loss: t.lc, Resumed: resumed,
		StoppedEarly: st.Stopped}
	res.Backend, res.BackendReason = t.choice.Desc, t.choice.Reason
	res.Graph = t.graph
	if st.Best != nil {
		res.Head, res.BestEpoch, res.BestValMAP, res.UsedEMA = *st.Best, st.BestEpoch, st.BestMAP, st.BestEMA
	} else {
		w := t.params
		if t.hasEMA {
			w, res.UsedEMA = t.ema, true
		}
		res.Head, res.BestEpoch = t.headFrom(slicesOf(w)), st.Epoch
	}
	return res, nil
}

// trainEpoch runs the optimisation steps of epoch (1-based), advancing st.Step, and
// returns the epoch's record with its training loss and last learning rate.
func (t *trainer) trainEpoch(ctx context.Context, epoch int, st *runState, total int, bufs *stepBufs, cb Callbacks) (Epoch, error) {
	cfg := t.cfg
	bx, by, bm, bd := bufs.x, bufs.y, bufs.m, bufs.drop
	perm := t.epochOrder(epoch)
	rows := len(perm)
	stepsPerEpoch := (rows + t.batch - 1) / t.batch
	dropRng := rand.New(rand.NewPCG(cfg.Seed^0x9e3779b97f4a7c15, uint64(epoch)))
	var lossSum, knownSum float64
	var lr float64
	for b := 0; b < stepsPerEpoch; b++ {
		if err := ctx.Err(); err != nil {
			return Epoch{}, err
		}
		lo, hi := b*t.batch, min((b+1)*t.batch, rows)
		clear(bm)
		clear(by)
		known := 0.0
		// Streamed rows given as stored go to the backend as they are (the step graph
		// converts and standardises them); the others are copied into bx standardised.
		var xT *tensors.Tensor
		if t.src != nil && t.src.raw != nil {
			if t.rawX == nil {
				t.rawX = tensors.FromShape(shapes.Make(t.src.rawDType(), t.batch, t.dim))
			}
			if err := t.src.rawBatch(t.rawX, perm[lo:hi], t.batch); err != nil {
				return Epoch{}, err
			}
			xT = t.rawX
		} else {
			clear(bx)
		}
		for r, idx := range perm[lo:hi] {
			switch {
			case xT != nil:
			case t.src != nil:
				t.src.row(idx, bx[r*t.dim:(r+1)*t.dim], t.init)
			case t.init.Kind == head.Attention && len(t.init.Mean) > 0:
				headparams.StandardizeMap(bx[r*t.dim:(r+1)*t.dim], t.x[idx*t.dim:(idx+1)*t.dim], t.init.Mean, t.init.Std, t.init.Tokens)
			default:
				copy(bx[r*t.dim:(r+1)*t.dim], t.x[idx*t.dim:(idx+1)*t.dim])
			}
			targetsAndMask(t.trY[idx], by[r*t.classes:(r+1)*t.classes], bm[r*t.classes:(r+1)*t.classes])
		}
		for _, v := range bm {
			known += float64(v)
		}
		lr = LearningRate(cfg, st.Step, total)
		stepNo := float64(st.Step + 1)
		emaDecay := math.Min(cfg.EMA, (1+float64(st.Step))/(10+float64(st.Step)))
		if xT == nil {
			xT = tensors.FromFlatDataAndDimensions(bx, t.batch, t.dim)
		}
		args := []any{
			xT,
			tensors.FromFlatDataAndDimensions(by, t.batch, t.classes),
			tensors.FromFlatDataAndDimensions(bm, t.batch, t.classes),
			t.posw,
			float32(lr),
			float32(1 - math.Pow(cfg.Beta1, stepNo)),
			float32(1 - math.Pow(cfg.Beta2, stepNo)),
			float32(emaDecay),
		}
		keep := float32(1 / (1 - cfg.Dropout))
		for mi, bd := range bd {
			for k := range bd {
				if dropRng.Float64() < cfg.Dropout {
					bd[k] = 0
				} else {
					bd[k] = keep
				}
			}
			args = append(args, tensors.FromFlatDataAndDimensions(bd, t.dropShapes[mi]...))
		}
		for _, group := range [][]*tensors.Tensor{t.params, t.mom, t.vel, t.ema} {
			for _, x := range group {
				args = append(args, x)
			}
		}
		out, err := t.stepExec.Exec(args...)
		if err != nil {
			return Epoch{}, fmt.Errorf("train: epoch %d step %d: %w", epoch, b+1, err)
		}
		t.freeBatch(args)
		bl := float64(tensors.ToScalar[float32](out[0]))
		if math.IsNaN(bl) || math.IsInf(bl, 0) {
			return Epoch{}, fmt.Errorf("train: epoch %d step %d: loss is %v (try a lower learning rate)", epoch, b+1, bl)
		}
		lossSum += bl * known
		knownSum += known
		nw := t.nw()
		old := [][]*tensors.Tensor{t.params, t.mom, t.vel, t.ema}
		t.params, t.mom, t.vel = out[2:2+nw], out[2+nw:2+2*nw], out[2+2*nw:2+3*nw]
		if t.hasEMA {
			t.ema = out[2+3*nw : 2+4*nw]
		}
		for _, group := range old {
			for _, x := range group {
				x.MustFinalizeAll()
			}
		}
		out[0].MustFinalizeAll()
		out[1].MustFinalizeAll()
		st.Step++
		if cb.OnStep != nil {
			cb.OnStep(st.Step, total)
		}
	}
	if t.src != nil {
		t.src.releaseAll()
	}
	e := Epoch{Epoch: epoch, LR: lr}
	if knownSum > 0 {
		e.TrainLoss = lossSum / knownSum
	}
	return e, nil
}

// validate fills e's validation figures (raw weights and EMA) and returns the score
// that selects the epoch: the better of the two mAPs, and whether it is the EMA's.
func (t *trainer) validate(e *Epoch) (score float64, useEMA bool, err error) {
	if e.ValLoss, e.ValMAP, err = t.evaluate(t.params); err != nil {
		return 0, false, err
	}
	e.ValLossEMA, e.ValMAPEMA = e.ValLoss, e.ValMAP
	if t.hasEMA {
		if e.ValLossEMA, e.ValMAPEMA, err = t.evaluate(t.ema); err != nil {
			return 0, false, err
		}
	}
	score, useEMA = e.ValMAP, false
	if t.hasEMA && e.ValMAPEMA > e.ValMAP {
		score, useEMA = e.ValMAPEMA, true
	}
	return score, useEMA, nil
}

// targetsAndMask writes the targets and the known-mask of one label row into y and m
// (zeroed, length classes), as loss.TargetsAndMask does for a whole set.
func targetsAndMask(row []int8, y, m []float32) {
	for j := range min(len(y), len(row)) {
		switch row[j] {
		case 1:
			y[j], m[j] = 1, 1
		case 0:
			m[j] = 1
		}
	}
}

func clone(x []float32) []float32 {
	if x == nil {
		return nil
	}
	return append([]float32(nil), x...)
}
