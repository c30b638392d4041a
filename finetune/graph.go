package finetune

import (
	"fmt"
	"math"
	"runtime/debug"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/onnx-gomlx/onnx"
	"github.com/gomlx/onnx-gomlx/onnx/parser"

	"github.com/multilabel/multilabel/internal/optim"

	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/loss"
)

// Net is the trainable part: the tail graph (imported from ONNX by onnx-gomlx, its
// weights fed as graph inputs) followed by the head's standardisation and dense layers.
// Its step runs one AdamW update with discriminative learning rates (one for the tail,
// one for the head). Batch-norm nodes of the tail use their stored statistics (frozen):
// their scale and shift train, their means and variances do not (see NetOptions.TrainBN).
type Net struct {
	split     *Split
	model     onnx.Model  // training step's tail
	evalModel onnx.Model  // evaluation's tail (running batch-norm statistics)
	bnStats   []bnStat    // per state weight, with TrainBN
	bnTensors []bnTensors // the training tail's batch norms, for their closed-form gradient
	backend   compute.Backend
	head      head.Params // kind, sizes, standardisation (Mean/Std stay fixed)
	lc        loss.Config
	batch     int
	classes   int

	train []int // indices into split.Weights of trainable tail weights
	state []int // indices of batch-norm statistics
	decay []bool
	hdims [][]int
	nTail int
	stepE *graph.Exec
	// lastStep is the compiled step graph of the last step (TestProfileStep exports it).
	lastStep *graph.Graph
	evalE    *graph.Exec
	inLen    int
	// Lowered counts the convolutions computed as im2col + MatMul.
	Lowered int
	clipMax float64
	betas   [2]float64
	eps     float64
	wd      float64
}

// NetOptions configure NewNet.
type NetOptions struct {
	Batch       int // fixed batch of the training step (smaller batches are padded)
	Loss        loss.Config
	WeightDecay float64
	ClipNorm    float64
	Beta1       float64
	Beta2       float64
	AdamEps     float64
	// Shape gives the batch-1 shape of a tensor of the feature graph (e.g.
	// backbone.Backbone.TensorShape); when set, convolutions are lowered to im2col +
	// MatMul for the pure-Go backend's speed (same function, same weights).
	Shape func(name string) []int64
	// TrainBN normalises with batch statistics in the training step (full gradient)
	// and updates the running statistics from them (ONNX momentum, unbiased variance);
	// evaluation uses the running statistics. Steps then need full batches.
	TrainBN bool
}

// NewNet builds the training and evaluation graphs of split's tail followed by head h
// (whose In must equal the tail's feature dimension).
func NewNet(backend compute.Backend, sp *Split, h head.Params, opt NetOptions) (n *Net, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = nil, fmt.Errorf("finetune: building the tail graph: %v\n%s", r, debug.Stack())
		}
	}()
	tail, lowered, err := lowerConvs(sp.Tail, opt.Shape, loweringFor(backend))
	if err != nil {
		return nil, fmt.Errorf("finetune: rewriting the tail for training on backend %s: %w", backend.Name(), err)
	}
	evalTail, _, err := foldBatchNorms(tail, opt.Shape)
	if err != nil {
		return nil, fmt.Errorf("finetune: folding the frozen batch norms: %w", err)
	}
	evalModel, err := parser.Parse(evalTail)
	if err != nil {
		return nil, fmt.Errorf("finetune: importing the tail graph: %w", err)
	}
	m := evalModel
	var bn map[string]bnStat
	var bnts []bnTensors
	if opt.TrainBN && sp.BatchNorms > 0 {
		if tail, bn, bnts, err = trainBatchNorms(tail, opt.Shape); err != nil {
			return nil, fmt.Errorf("finetune: batch norms in training mode: %w", err)
		}
		if m, err = parser.Parse(tail); err != nil {
			return nil, fmt.Errorf("finetune: importing the tail graph: %w", err)
		}
	}
	if sp.FeatureDim != 0 && sp.FeatureDim != h.In {
		return nil, fmt.Errorf("finetune: head input %d but the tail gives %d features", h.In, sp.FeatureDim)
	}
	n = &Net{split: sp, model: m, evalModel: evalModel, bnTensors: bnts, backend: backend, head: *h.Clone(), lc: opt.Loss, batch: opt.Batch, classes: h.Out,
		Lowered: lowered, clipMax: opt.ClipNorm, betas: [2]float64{opt.Beta1, opt.Beta2}, eps: opt.AdamEps, wd: opt.WeightDecay}
	if n.betas[0] == 0 {
		n.betas[0] = 0.9
	}
	if n.betas[1] == 0 {
		n.betas[1] = 0.999
	}
	if n.eps == 0 {
		n.eps = 1e-8
	}
	n.inLen = 1
	for _, d := range sp.CutShape {
		n.inLen *= int(d)
	}
	for i, w := range sp.Weights {
		if w.State {
			n.state = append(n.state, i)
			if bn != nil {
				st, ok := bn[w.Name]
				if !ok {
					return nil, fmt.Errorf("finetune: batch-norm statistic %q has no batch counterpart", w.Name)
				}
				n.bnStats = append(n.bnStats, st)
			}
		} else {
			n.train = append(n.train, i)
			n.decay = append(n.decay, w.Decay)
		}
	}
	n.nTail = len(n.train)
	_, n.hdims = n.head.Weights()
	for i := range n.hdims {
		n.decay = append(n.decay, !head.IsBias(i))
	}
	if n.stepE, err = graph.NewExec(backend, n.stepGraph); err != nil {
		return nil, fmt.Errorf("finetune: training step: %w", err)
	}
	if n.evalE, err = graph.NewExec(backend, n.evalGraph); err != nil {
		return nil, fmt.Errorf("finetune: evaluation graph: %w", err)
	}
	return n, nil
}

// Close releases the compiled graphs.
func (n *Net) Close() {
	n.stepE.Finalize()
	n.evalE.Finalize()
}

// NumParams is the number of trainable parameters (tail and head).
func (n *Net) NumParams() (tail, headParams int64) {
	for _, i := range n.train {
		tail += int64(n.split.Weights[i].Size())
	}
	for _, d := range n.hdims {
		k := int64(1)
		for _, x := range d {
			k *= int64(x)
		}
		headParams += k
	}
	return tail, headParams
}

// forward builds tail + head logits for activations x [B, cut shape...] with model (the
// training or the evaluation tail), and the extra tail tensors named; bns are the
// training tail's batch norms (nil for evaluation), marked for their closed-form
// gradient until release.
func (n *Net) forward(m onnx.Model, bns []bnTensors, x *graph.Node, P, S []*graph.Node, extra ...string) (logits *graph.Node, stats []*graph.Node, release func()) {
	g := x.Graph()
	inputs := map[string]*graph.Node{n.split.Cut: x}
	for k, i := range n.train {
		inputs[n.split.Weights[i].Name] = P[k]
	}
	for k, i := range n.state {
		inputs[n.split.Weights[i].Name] = S[k]
	}
	names, _ := m.Outputs()
	outs, release := callTail(m, g, inputs, bns, append(names[:1:1], extra...)...)
	f := outs[0]
	f = graph.Reshape(f, -1, n.head.In)
	if len(n.head.Mean) > 0 {
		mean := graph.Const(g, n.head.Mean)
		std := graph.Const(g, n.head.Std)
		f = graph.Div(graph.Sub(f, graph.ExpandAxes(mean, 0)), graph.ExpandAxes(std, 0))
	}
	return head.ForwardGraph(n.head.Kind, f, P[n.nTail:], nil), outs[1:], release
}

// Step graph inputs, in order, then P..., S..., M..., V...
const (
	sX = iota
	sY
	sMask
	sPosW
	sLRTail
	sLRHead
	sBC1
	sBC2
	sFixed
)

func (n *Net) nP() int { return n.nTail + len(n.hdims) }

func (n *Net) stepGraph(g *graph.Graph, in []*graph.Node) []*graph.Node {
	nP, nS := n.nP(), len(n.state)
	P := in[sFixed : sFixed+nP]
	S := in[sFixed+nP : sFixed+nP+nS]
	M := in[sFixed+nP+nS : sFixed+2*nP+nS]
	V := in[sFixed+2*nP+nS : sFixed+3*nP+nS]
	var extra []string
	for _, b := range n.bnStats {
		extra = append(extra, b.batch)
	}
	logits, stats, release := n.forward(n.model, n.bnTensors, in[sX], P, S, extra...)
	defer release()
	l := loss.Masked(n.lc, logits, in[sY], in[sMask], in[sPosW])
	grads := graph.Gradient(l, P...)
	grads, norm := optim.ClipByGlobalNorm(l, grads, n.clipMax)
	adam := optim.AdamW{Beta1: n.betas[0], Beta2: n.betas[1], Eps: n.eps}
	sqrtBC2 := graph.Sqrt(in[sBC2])
	out := []*graph.Node{l, norm}
	newM := make([]*graph.Node, nP)
	newV := make([]*graph.Node, nP)
	newP := make([]*graph.Node, nP)
	for j := range P {
		lr := in[sLRHead]
		if j < n.nTail {
			lr = in[sLRTail]
		}
		decay := 0.0
		if n.decay[j] {
			decay = n.wd
		}
		newP[j], newM[j], newV[j] = adam.Step(P[j], grads[j], M[j], V[j], lr, graph.Div(lr, in[sBC1]), sqrtBC2, decay)
	}
	out = append(out, newP...)
	out = append(out, newM...)
	out = append(out, newV...)
	return append(out, stats...)
}

// evalGraph: x, P..., S... -> logits.
func (n *Net) evalGraph(g *graph.Graph, in []*graph.Node) []*graph.Node {
	nP := n.nP()
	logits, _, _ := n.forward(n.evalModel, nil, in[0], in[1:1+nP], in[1+nP:])
	return []*graph.Node{logits}
}

// State is the mutable training state: weights and AdamW moments.
type State struct {
	Params [][]float32 // trainable tail weights then head weights (graph order)
	Stats  [][]float32 // batch-norm statistics of the tail
	Mom    [][]float32
	Vel    [][]float32
	Step   int // AdamW steps taken (for the bias correction)
}

// InitState returns the starting state: the tail's weights as loaded, the head's
// weights, zero moments.
func (n *Net) InitState() *State {
	st := &State{}
	for _, i := range n.train {
		st.Params = append(st.Params, append([]float32(nil), n.split.Weights[i].Data...))
	}
	for _, i := range n.state {
		st.Stats = append(st.Stats, append([]float32(nil), n.split.Weights[i].Data...))
	}
	hw, _ := n.head.Clone().Weights()
	st.Params = append(st.Params, hw...)
	for _, p := range st.Params {
		st.Mom = append(st.Mom, make([]float32, len(p)))
		st.Vel = append(st.Vel, make([]float32, len(p)))
	}
	return st
}

func (n *Net) dims(j int) []int {
	if j < n.nTail {
		return n.split.Weights[n.train[j]].Dims
	}
	return n.hdims[j-n.nTail]
}

func (n *Net) batchTensor(x []float32, b int) (*tensors.Tensor, error) {
	d := []int{b}
	for _, v := range n.split.CutShape {
		d = append(d, int(v))
	}
	// One copy of x, straight into the backend's buffer where it shares host memory
	// (ONNX Runtime, pure Go); rows beyond len(x) stay zero.
	t, err := tensors.FromShapeForBackend(n.backend, 0, shapes.Make(dtypes.Float32, d...))
	if err != nil {
		return nil, fmt.Errorf("finetune: batch tensor: %w", err)
	}
	if err := tensors.MutableFlatData(t, func(flat []float32) { copy(flat, x) }); err != nil {
		t.MustFinalizeAll()
		return nil, fmt.Errorf("finetune: batch tensor: %w", err)
	}
	return t, nil
}

// Step runs one AdamW step on a batch of activations x (rows of the cut shape; fewer
// than the batch size are padded with masked rows) with targets and known-mask y, m
// (rows × classes), learning rates lrTail and lrHead, and returns the loss.
func (n *Net) Step(st *State, x, y, m, posw []float32, rows int, lrTail, lrHead float64) (lossV float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("finetune: training step: %v", r)
		}
	}()
	B := n.batch
	if rows > B || len(x) != rows*n.inLen || len(y) != rows*n.classes || len(m) != rows*n.classes {
		return 0, fmt.Errorf("finetune: step got %d rows (%d/%d/%d values) for batch %d", rows, len(x), len(y), len(m), B)
	}
	if rows < B && len(n.bnStats) > 0 {
		return 0, fmt.Errorf("finetune: step got %d rows: batch statistics need full batches of %d", rows, B)
	}
	if rows < B {
		y = append(append(make([]float32, 0, B*n.classes), y...), make([]float32, (B-rows)*n.classes)...)
		m = append(append(make([]float32, 0, B*n.classes), m...), make([]float32, (B-rows)*n.classes)...)
	}
	t := float64(st.Step + 1)
	xt, err := n.batchTensor(x, B) // padded with zero rows
	if err != nil {
		return 0, err
	}
	args := []any{xt, tensors.FromFlatDataAndDimensions(y, B, n.classes),
		tensors.FromFlatDataAndDimensions(m, B, n.classes), tensors.FromFlatDataAndDimensions(posw, n.classes),
		float32(lrTail), float32(lrHead), float32(1 - math.Pow(n.betas[0], t)), float32(1 - math.Pow(n.betas[1], t))}
	for j, v := range st.Params {
		args = append(args, tensors.FromFlatDataAndDimensions(v, n.dims(j)...))
	}
	for j, v := range st.Stats {
		args = append(args, tensors.FromFlatDataAndDimensions(v, n.split.Weights[n.state[j]].Dims...))
	}
	for _, group := range [][][]float32{st.Mom, st.Vel} {
		for j, v := range group {
			args = append(args, tensors.FromFlatDataAndDimensions(v, n.dims(j)...))
		}
	}
	out, stepG, err := n.stepE.ExecWithGraphOnDevice(0, args...)
	n.lastStep = stepG
	if err != nil {
		return 0, fmt.Errorf("finetune: training step: %w", err)
	}
	defer func() {
		for _, o := range out {
			o.MustFinalizeAll()
		}
		for _, a := range args {
			if t, ok := a.(*tensors.Tensor); ok {
				t.MustFinalizeAll()
			}
		}
	}()
	lossV = float64(tensors.ToScalar[float32](out[0]))
	if math.IsNaN(lossV) || math.IsInf(lossV, 0) {
		return lossV, fmt.Errorf("finetune: loss is %v (try a lower learning rate)", lossV)
	}
	nP := n.nP()
	for j := 0; j < nP; j++ {
		st.Params[j] = tensors.MustCopyFlatData[float32](out[2+j])
		st.Mom[j] = tensors.MustCopyFlatData[float32](out[2+nP+j])
		st.Vel[j] = tensors.MustCopyFlatData[float32](out[2+2*nP+j])
	}
	for j, b := range n.bnStats {
		batch := tensors.MustCopyFlatData[float32](out[2+3*nP+j])
		unbias := 1.0
		if cnt := B * b.spatial; b.isVar && cnt > 1 {
			unbias = float64(cnt) / float64(cnt-1)
		}
		run := st.Stats[j]
		for i := range run {
			run[i] = float32(float64(run[i])*b.momentum + float64(batch[i])*unbias*(1-b.momentum))
		}
	}
	st.Step++
	return lossV, nil
}

// Logits runs tail + head on rows of activations x (any count, in chunks of the batch
// size) and returns rows × classes logits.
func (n *Net) Logits(st *State, x []float32, rows int) (out []float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("finetune: evaluation: %v", r)
		}
	}()
	if len(x) != rows*n.inLen {
		return nil, fmt.Errorf("finetune: %d activation values for %d rows of %d", len(x), rows, n.inLen)
	}
	var ws []*tensors.Tensor
	for j, v := range st.Params {
		ws = append(ws, tensors.FromFlatDataAndDimensions(v, n.dims(j)...))
	}
	for j, v := range st.Stats {
		ws = append(ws, tensors.FromFlatDataAndDimensions(v, n.split.Weights[n.state[j]].Dims...))
	}
	defer func() {
		for _, w := range ws {
			w.MustFinalizeAll()
		}
	}()
	B := n.batch
	out = make([]float32, 0, rows*n.classes)
	for lo := 0; lo < rows; lo += B {
		k := min(B, rows-lo)
		xt, err := n.batchTensor(x[lo*n.inLen:(lo+k)*n.inLen], B)
		if err != nil {
			return nil, err
		}
		args := []any{xt}
		for _, w := range ws {
			args = append(args, w)
		}
		res, err := n.evalE.Exec(args...)
		xt.MustFinalizeAll()
		if err != nil {
			return nil, fmt.Errorf("finetune: evaluation: %w", err)
		}
		l := tensors.MustCopyFlatData[float32](res[0])
		res[0].MustFinalizeAll()
		out = append(out, l[:k*n.classes]...)
	}
	return out, nil
}

// Head returns the head held by st (with the fixed standardisation).
func (n *Net) Head(st *State) head.Params {
	p := n.head.Clone()
	w := st.Params[n.nTail:]
	p.W1, p.B1 = append([]float32(nil), w[0]...), append([]float32(nil), w[1]...)
	if p.Kind == head.MLP {
		p.W2, p.B2 = append([]float32(nil), w[2]...), append([]float32(nil), w[3]...)
	}
	return *p
}

// TailWeights returns every tail weight (trainable and statistics) in Split.Weights order.
func (n *Net) TailWeights(st *State) [][]float32 {
	out := make([][]float32, len(n.split.Weights))
	for k, i := range n.train {
		out[i] = st.Params[k]
	}
	for k, i := range n.state {
		out[i] = st.Stats[k]
	}
	return out
}
