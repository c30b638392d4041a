// Package gomlx runs an fp32 ONNX graph in pure Go: onnx-gomlx converts the graph to GoMLX
// and the portable Go backend (github.com/gomlx/compute/gobackend) executes it. No native
// library is needed, so it works everywhere; it is much slower than ONNX Runtime and is the
// fallback engine (see package engine/auto).
//
// One executable is compiled per batch size and cached; batches larger than
// Options.MaxBatch are split. Panics raised while GoMLX builds or runs a graph are turned
// into errors.
package gomlx

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/onnx-gomlx/onnx"
	"github.com/gomlx/onnx-gomlx/onnx/parser"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/engine"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/internal/onnxcheck"
)

// DefaultMaxBatch is the largest batch run in one executable call when Options.MaxBatch is 0.
const DefaultMaxBatch = 32

// Options configure an Engine.
type Options struct {
	// Output selects the graph output by name; "" takes the only (or first) output.
	Output string
	// MaxBatch splits larger Run calls into chunks of at most this many samples (one
	// compiled executable per distinct chunk size); 0 means DefaultMaxBatch.
	MaxBatch int
}

// Engine runs one ONNX graph with the pure-Go GoMLX backend. It is safe for concurrent use.
type Engine struct {
	backend    compute.Backend
	model      onnx.Model
	store      *model.Store
	exec       *model.Exec
	inputName  string
	outputName string
	inShape    []int64 // per sample
	outShape   []int64 // per sample
	inLen      int
	outLen     int
	maxBatch   int

	mu     sync.RWMutex
	closed bool
}

var _ engine.Engine = (*Engine)(nil)

// backend is shared by all engines: the Go backend is stateless enough and creating one
// per engine would multiply its worker pools.
var sharedBackend = sync.OnceValues(func() (compute.Backend, error) { return gobackend.New("") })

// Open parses the ONNX graph in modelBytes (fp32, one tensor input [N,...], one tensor
// output [N,...]) and prepares it for execution. Initializers that IR-3 graphs also list
// among the inputs are removed from the inputs, and Dropout nodes become Identity.
//
// The graph is checked first (see package internal/onnxcheck): a cycle, a tensor declaring
// more than 4 GiB, dimensions whose product overflows or external data are refused. Every
// error about the model itself matches errkind.ErrBadInput.
func Open(modelBytes []byte, opt Options) (*Engine, error) {
	e, err := open(modelBytes, opt)
	var be backendError
	if err != nil && !errors.As(err, &be) {
		return nil, errkind.WrapBadInput(err)
	}
	return e, err
}

// backendError marks failures of the Go backend itself, not of the model.
type backendError struct{ err error }

func (b backendError) Error() string { return b.err.Error() }
func (b backendError) Unwrap() error { return b.err }

func open(modelBytes []byte, opt Options) (e *Engine, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("gomlx: opening model: %v", r)
		}
	}()
	if len(modelBytes) == 0 {
		return nil, errors.New("gomlx: empty ONNX model")
	}
	modelBytes, err = prepareModel(modelBytes)
	if err != nil {
		return nil, err
	}
	m, err := parser.Parse(modelBytes)
	if err != nil {
		return nil, fmt.Errorf("gomlx: parsing ONNX model: %w", err)
	}
	inNames, inShapes := m.Inputs()
	if len(inNames) != 1 {
		return nil, fmt.Errorf("gomlx: model has %d inputs %v, want exactly 1", len(inNames), inNames)
	}
	outNames, outShapes := m.Outputs()
	if len(outNames) == 0 {
		return nil, errors.New("gomlx: model has no outputs")
	}
	outIdx := 0
	if opt.Output != "" {
		outIdx = slices.Index(outNames, opt.Output)
		if outIdx < 0 {
			return nil, fmt.Errorf("gomlx: output %q not found; outputs are %v", opt.Output, outNames)
		}
	}
	if inShapes[0].DType != dtypes.Float32 {
		return nil, fmt.Errorf("gomlx: input %q has dtype %s, want float32 (convert fp16 models first)", inNames[0], inShapes[0].DType)
	}
	if outShapes[outIdx].DType != dtypes.Float32 {
		return nil, fmt.Errorf("gomlx: output %q has dtype %s, want float32", outNames[outIdx], outShapes[outIdx].DType)
	}
	in := inShapes[0].Dimensions
	if len(in) < 2 {
		return nil, fmt.Errorf("gomlx: input %q has shape %v, want [batch, ...]", inNames[0], in)
	}
	e = &Engine{
		model:      m,
		inputName:  inNames[0],
		outputName: outNames[outIdx],
		maxBatch:   opt.MaxBatch,
	}
	if e.maxBatch <= 0 {
		e.maxBatch = DefaultMaxBatch
	}
	if in[0] == 1 {
		// A batch dimension fixed to 1: run sample by sample.
		e.maxBatch = 1
	}
	e.inShape = make([]int64, len(in)-1)
	e.inLen = 1
	for i, d := range in[1:] {
		if d <= 0 {
			return nil, fmt.Errorf("gomlx: input %q has shape %v: only the batch dimension may be dynamic", inNames[0], in)
		}
		e.inShape[i] = int64(d)
		e.inLen *= d
	}
	e.backend, err = sharedBackend()
	if err != nil {
		return nil, backendError{fmt.Errorf("gomlx: creating the Go backend: %w", err)}
	}
	e.store = model.NewStore()
	if err := m.VariablesToScope(e.store.RootScope()); err != nil {
		return nil, fmt.Errorf("gomlx: loading weights: %w", err)
	}
	e.exec, err = model.NewExec(e.backend, e.store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		return m.CallGraph(scope, x.Graph(), map[string]*graph.Node{e.inputName: x}, e.outputName)[0]
	})
	if err != nil {
		return nil, fmt.Errorf("gomlx: creating executor: %w", err)
	}
	// Chunks have 1..maxBatch samples: room for one executable per size.
	e.exec.SetMaxCache(max(e.maxBatch, graph.DefaultExecMaxCacheSize))
	out := outShapes[outIdx].Dimensions
	static := len(out) >= 1
	for _, d := range out[min(1, len(out)):] {
		if d <= 0 {
			static = false
		}
	}
	if static {
		e.outShape = make([]int64, len(out)-1)
		for i, d := range out[1:] {
			e.outShape[i] = int64(d)
		}
	} else if err := e.probeOutputShape(); err != nil {
		// The declared output shape is incomplete: run one sample to learn it.
		return nil, err
	}
	e.outLen = 1
	for _, d := range e.outShape {
		e.outLen *= int(d)
	}
	return e, nil
}

// Compile builds and compiles the executable for batch size n (at most MaxBatch) ahead of
// the first Run of that size, so that timing a Run does not include compilation.
func (e *Engine) Compile(n int) (err error) {
	if n <= 0 || n > e.maxBatch {
		return fmt.Errorf("gomlx: compile batch %d: want 1..%d", n, e.maxBatch)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gomlx: building graph for batch %d: %v", n, r)
		}
	}()
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return errors.New("gomlx: engine is closed")
	}
	dims := append([]int{n}, toInts(e.inShape)...)
	if _, err := e.exec.Compile(shapes.Make(dtypes.Float32, dims...)); err != nil {
		return fmt.Errorf("gomlx: compiling graph for batch %d: %w", n, err)
	}
	return nil
}

// probeOutputShape runs the graph once on zeros to learn the output shape.
func (e *Engine) probeOutputShape() error {
	x := make([]float32, e.inLen)
	_, dims, err := e.runChunk(x, 1)
	if err != nil {
		return err
	}
	if len(dims) < 1 || dims[0] != 1 {
		return fmt.Errorf("gomlx: output %q has shape %v for a batch of 1", e.outputName, dims)
	}
	e.outShape = make([]int64, len(dims)-1)
	for i, d := range dims[1:] {
		e.outShape[i] = int64(d)
	}
	return nil
}

func toInts(s []int64) []int {
	r := make([]int, len(s))
	for i, v := range s {
		r[i] = int(v)
	}
	return r
}

// Name reports "gomlx (pure Go)".
func (e *Engine) Name() string { return "gomlx (pure Go)" }

// MaxBatch is the largest batch run in one executable call.
func (e *Engine) MaxBatch() int { return e.maxBatch }

// InputShape is the per-sample input shape.
func (e *Engine) InputShape() []int64 { return slices.Clone(e.inShape) }

// OutputShape is the per-sample output shape.
func (e *Engine) OutputShape() []int64 { return slices.Clone(e.outShape) }

// Run runs n samples. The context is checked between chunks of at most MaxBatch samples:
// a chunk that has started runs to its end.
func (e *Engine) Run(ctx context.Context, input []float32, n int) ([]float32, error) {
	if n <= 0 {
		return nil, fmt.Errorf("gomlx: batch size %d, want > 0", n)
	}
	if len(input) != n*e.inLen {
		return nil, fmt.Errorf("gomlx: input has %d values, want %d (%d samples × %v)", len(input), n*e.inLen, n, e.inShape)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, errors.New("gomlx: engine is closed")
	}
	out := make([]float32, 0, n*e.outLen)
	for start := 0; start < n; start += e.maxBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k := min(e.maxBatch, n-start)
		res, dims, err := e.runChunk(input[start*e.inLen:(start+k)*e.inLen], k)
		if err != nil {
			return nil, err
		}
		if len(res) != k*e.outLen {
			return nil, fmt.Errorf("gomlx: output %q has shape %v, want [%d %v]", e.outputName, dims, k, e.outShape)
		}
		out = append(out, res...)
	}
	return out, nil
}

// runChunk executes one batch of k samples and returns the flat output and its shape.
func (e *Engine) runChunk(x []float32, k int) (out []float32, dims []int, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, dims, err = nil, nil, fmt.Errorf("gomlx: running graph on batch %d: %v\n%s", k, r, debug.Stack())
		}
	}()
	dimsIn := append([]int{k}, toInts(e.inShape)...)
	xt := tensors.FromFlatDataAndDimensions(x, dimsIn...)
	defer xt.FinalizeAll()
	y, err := e.exec.Call1(xt)
	if err != nil {
		return nil, nil, fmt.Errorf("gomlx: running graph on batch %d: %w", k, err)
	}
	defer y.FinalizeAll()
	if y.DType() != dtypes.Float32 {
		return nil, nil, fmt.Errorf("gomlx: output %q has dtype %s, want float32", e.outputName, y.DType())
	}
	out, err = tensors.CopyFlatData[float32](y)
	if err != nil {
		return nil, nil, fmt.Errorf("gomlx: reading output: %w", err)
	}
	return out, y.Shape().Dimensions, nil
}

// Close releases the compiled executables. Run calls in flight finish first.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.exec.Finalize()
	return e.model.Close()
}

// prepareModel adapts a graph for inference with onnx-gomlx: it removes from graph.input
// every name that has an initializer (IR version 3 graphs list weights among the inputs)
// and replaces Dropout, an identity at inference that onnx-gomlx does not convert, by
// Identity, and gives Softmax of opsets before 13 (softmax over all dimensions from axis
// on, axis 1 by default) that meaning explicitly, because onnx-gomlx always applies the
// opset-13 meaning (one axis, -1 by default). It returns the input unchanged when there is nothing to change.
func prepareModel(b []byte) ([]byte, error) {
	var mp protos.ModelProto
	if err := proto.Unmarshal(b, &mp); err != nil {
		return nil, fmt.Errorf("gomlx: not a valid ONNX model (protobuf decoding failed): %w", errkind.WrapBadInput(err))
	}
	g := mp.Graph
	if g == nil || len(g.Node) == 0 {
		return nil, errkind.BadInput("gomlx: not a valid ONNX model (no graph or no nodes)")
	}
	// A cycle would overflow the graph builder's stack and a declared-only huge tensor
	// would be allocated: both are refused here, before onnx-gomlx sees the graph.
	if err := onnxcheck.Check(&mp, onnxcheck.Limits{}); err != nil {
		return nil, fmt.Errorf("gomlx: %w", err)
	}
	changed := false
	inits := make(map[string]bool, len(g.Initializer))
	for _, t := range g.Initializer {
		inits[t.Name] = true
	}
	kept := g.Input[:0:0]
	for _, in := range g.Input {
		if !inits[in.Name] {
			kept = append(kept, in)
		}
	}
	if len(kept) != len(g.Input) {
		g.Input = kept
		changed = true
	}
	used := map[string]bool{}
	for _, n := range g.Node {
		for _, in := range n.Input {
			used[in] = true
		}
	}
	for _, o := range g.Output {
		used[o.Name] = true
	}
	for _, n := range g.Node {
		if n.OpType != "Dropout" || n.Domain != "" {
			continue
		}
		if len(n.Input) < 1 || len(n.Output) < 1 {
			return nil, fmt.Errorf("gomlx: Dropout node %q has no input or output", n.Name)
		}
		for _, o := range n.Output[1:] {
			if o != "" && used[o] {
				return nil, fmt.Errorf("gomlx: Dropout node %q: its mask output %q is used, which inference does not support", n.Name, o)
			}
		}
		n.OpType = "Identity"
		n.Input = n.Input[:1]
		n.Output = n.Output[:1]
		n.Attribute = nil
		changed = true
	}
	if opsetVersion(&mp) < 13 && rewriteOldSoftmax(g) {
		changed = true
	}
	if !changed {
		return b, nil
	}
	out, err := proto.Marshal(&mp)
	if err != nil {
		return nil, fmt.Errorf("gomlx: re-encoding ONNX model: %w", err)
	}
	return out, nil
}

// opsetVersion is the version of the default ONNX domain the model imports.
func opsetVersion(mp *protos.ModelProto) int64 {
	for _, o := range mp.OpsetImport {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			return o.Version
		}
	}
	return 0
}

// rewriteOldSoftmax replaces each default-domain Softmax node (opset < 13 semantics) by
// Shape + Flatten(axis) + Softmax(axis=1) + Reshape, which means the same in every opset.
func rewriteOldSoftmax(g *protos.GraphProto) bool {
	var nodes []*protos.NodeProto
	changed := false
	for i, n := range g.Node {
		if n.OpType != "Softmax" || n.Domain != "" || len(n.Input) != 1 || len(n.Output) != 1 {
			nodes = append(nodes, n)
			continue
		}
		axis := int64(1)
		for _, a := range n.Attribute {
			if a.Name == "axis" {
				axis = a.I
			}
		}
		x, y := n.Input[0], n.Output[0]
		pre := fmt.Sprintf("%s__softmax%d_", y, i)
		intAttr := func(name string, v int64) []*protos.AttributeProto {
			return []*protos.AttributeProto{{Name: name, Type: protos.AttributeProto_INT, I: v}}
		}
		nodes = append(nodes,
			&protos.NodeProto{Name: pre + "shape", OpType: "Shape", Input: []string{x}, Output: []string{pre + "shape"}},
			&protos.NodeProto{Name: pre + "flat", OpType: "Flatten", Input: []string{x}, Output: []string{pre + "flat"}, Attribute: intAttr("axis", axis)},
			&protos.NodeProto{Name: pre + "softmax", OpType: "Softmax", Input: []string{pre + "flat"}, Output: []string{pre + "sm"}, Attribute: intAttr("axis", 1)},
			&protos.NodeProto{Name: n.Name, OpType: "Reshape", Input: []string{pre + "sm", pre + "shape"}, Output: []string{y}},
		)
		changed = true
	}
	if changed {
		g.Node = nodes
	}
	return changed
}
