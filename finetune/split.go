package finetune

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/internal/onnxcheck"
)

const dtFloat = int32(protos.TensorProto_FLOAT)

// ErrBadCut is wrapped by errors about a cut that does not split the graph.
var ErrBadCut = errors.New("bad cut")

// Weight is one trainable (or, for batch-norm statistics, state) tensor of the tail.
type Weight struct {
	Name string
	Dims []int
	Data []float32
	// Decay tells whether AdamW's weight decay applies (weights of rank >= 2; never
	// biases or normalisation parameters).
	Decay bool
	// State marks batch-norm running statistics: never trained by gradient; updated
	// from batch statistics only with Config.TrainBN.
	State bool
}

// Size is the number of values.
func (w Weight) Size() int {
	n := 1
	for _, d := range w.Dims {
		n *= d
	}
	return n
}

// Split is a feature model cut into a frozen prefix and a trainable tail.
type Split struct {
	// Cut is the tensor joining prefix and tail; CutShape its per-sample shape.
	Cut      string
	CutShape []int64
	// Prefix is the ONNX graph image -> Cut (nil when the cut is the image input: the
	// whole network is trained).
	Prefix []byte
	// Tail is the ONNX graph Cut, weights... -> features: every weight of the tail is
	// a graph input (after Cut, in Weights order) so that the training graph feeds them.
	Tail []byte
	// Weights lists the tail's weights, in the order of the tail's inputs after Cut.
	Weights []Weight
	// FeatureDim is the length of the feature vector (the tail's output).
	FeatureDim int
	// BatchNorms counts the tail's BatchNormalization nodes.
	BatchNorms int

	full *protos.ModelProto
}

// Trainable counts the trainable tail parameters (batch-norm statistics excluded).
func (s *Split) Trainable() int64 {
	var n int64
	for _, w := range s.Weights {
		if !w.State {
			n += int64(w.Size())
		}
	}
	return n
}

// CutFor returns the cut tensor for --unfreeze: "all" (or a K at least the number of
// blocks) cuts at the image input, K >= 1 at the K-th block from the end.
func CutFor(blocks []backbone.Block, unfreeze string) (backbone.Block, error) {
	if len(blocks) == 0 {
		return backbone.Block{}, fmt.Errorf("%w: the graph has no trainable block", ErrBadCut)
	}
	if unfreeze == "all" {
		return blocks[0], nil
	}
	k, err := strconv.Atoi(strings.TrimSpace(unfreeze))
	if err != nil || k < 1 {
		return backbone.Block{}, fmt.Errorf("%w: --unfreeze %q: want a number of blocks >= 1 or \"all\"", ErrBadCut, unfreeze)
	}
	if k > len(blocks) {
		k = len(blocks)
	}
	return blocks[len(blocks)-k], nil
}

// trainableInput reports whether input i of node n is a trainable weight (when it is a
// float initializer) and whether it is batch-norm state.
func trainableInput(n *protos.NodeProto, i int) (train, state bool) {
	switch n.OpType {
	case "Conv", "ConvTranspose", "Gemm", "PRelu", "InstanceNormalization", "LayerNormalization":
		return i >= 1, false
	case "MatMul", "Add", "Sub", "Mul", "Div":
		return true, false
	case "BatchNormalization":
		return i == 1 || i == 2, i == 3 || i == 4
	}
	return false, false
}

// SplitModel cuts featureModel (a backbone.FeatureModel graph: one image input, one
// output [N,D]) at tensor cut, whose per-sample shape is cutShape.
func SplitModel(featureModel []byte, cut string, cutShape []int64) (s *Split, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("finetune: splitting the graph: %v", r)
		}
	}()
	m := &protos.ModelProto{}
	if err := proto.Unmarshal(featureModel, m); err != nil {
		return nil, fmt.Errorf("finetune: feature model: %w", err)
	}
	// A duplicated initializer (the FuzzSplitModel finding "write back: 9 of 8 weights
	// found"), a cycle or an impossible size is refused before the graph is walked.
	if err := onnxcheck.Check(m, onnxcheck.Limits{AllowExternal: true}); err != nil {
		return nil, fmt.Errorf("finetune: feature model: %w", err)
	}
	g := m.Graph
	if g == nil || len(g.Input) != 1 || len(g.Output) != 1 {
		return nil, errors.New("finetune: feature model must have one input and one output")
	}
	for _, d := range cutShape {
		if d <= 0 {
			return nil, fmt.Errorf("%w: tensor %q has an unknown shape %v", ErrBadCut, cut, cutShape)
		}
	}
	input, output := g.Input[0].Name, g.Output[0].Name
	s = &Split{Cut: cut, CutShape: append([]int64(nil), cutShape...), full: m}
	inits := map[string]*protos.TensorProto{}
	for _, t := range g.Initializer {
		inits[t.Name] = t
	}
	if od := g.Output[0].GetType().GetTensorType().GetShape().GetDim(); len(od) == 2 {
		s.FeatureDim = int(od[1].GetDimValue())
	}

	// Tail: nodes the output needs, walking back and stopping at the cut.
	needed := map[string]bool{output: true}
	inTail := make([]bool, len(g.Node))
	for i := len(g.Node) - 1; i >= 0; i-- {
		n := g.Node[i]
		for _, o := range n.Output {
			if needed[o] && o != cut {
				inTail[i] = true
			}
		}
		if inTail[i] {
			for _, in := range n.Input {
				needed[in] = true
			}
		}
	}
	if cut != input && needed[input] {
		return nil, fmt.Errorf("%w: %q does not separate the input from the output (see the blocks listed by 'multilabel backbone inspect')", ErrBadCut, cut)
	}
	if !needed[cut] {
		return nil, fmt.Errorf("%w: the output does not depend on %q", ErrBadCut, cut)
	}

	tg := &protos.GraphProto{Name: g.Name + "_tail"}
	tg.Input = []*protos.ValueInfoProto{valueInfo(cut, append([]int64{-1}, cutShape...))}
	seen := map[string]bool{}
	for i, n := range g.Node {
		if !inTail[i] {
			continue
		}
		if n.OpType == "BatchNormalization" {
			s.BatchNorms++
		}
		for k, in := range n.Input {
			t := inits[in]
			if t == nil || seen[in] {
				continue
			}
			seen[in] = true
			train, state := trainableInput(n, k)
			if t.DataType == dtFloat && (train || state) {
				vals, err := floats(t)
				if err != nil {
					return nil, err
				}
				w := Weight{Name: in, Data: vals, State: state, Decay: !state && len(t.Dims) >= 2}
				for _, d := range t.Dims {
					w.Dims = append(w.Dims, int(d))
				}
				s.Weights = append(s.Weights, w)
				tg.Input = append(tg.Input, valueInfo(in, t.Dims))
				continue
			}
			// Anything else (shape constants, scalars) becomes a Constant node.
			tg.Node = append(tg.Node, &protos.NodeProto{Name: "const_" + in, OpType: "Constant", Output: []string{in},
				Attribute: []*protos.AttributeProto{{Name: "value", Type: protos.AttributeProto_TENSOR, T: t}}})
		}
	}
	for i, n := range g.Node {
		if inTail[i] {
			tg.Node = append(tg.Node, n)
		}
	}
	tg.Output = g.Output
	tm := &protos.ModelProto{IrVersion: m.IrVersion, OpsetImport: m.OpsetImport, ProducerName: "multilabel-finetune", Graph: tg}
	if s.Tail, err = proto.Marshal(tm); err != nil {
		return nil, fmt.Errorf("finetune: tail graph: %w", err)
	}

	if cut == input {
		return s, nil
	}
	// Prefix: nodes the cut needs.
	needed = map[string]bool{cut: true}
	inPrefix := make([]bool, len(g.Node))
	for i := len(g.Node) - 1; i >= 0; i-- {
		n := g.Node[i]
		for _, o := range n.Output {
			if needed[o] {
				inPrefix[i] = true
			}
		}
		if inPrefix[i] {
			for _, in := range n.Input {
				needed[in] = true
			}
		}
	}
	pg := &protos.GraphProto{Name: g.Name + "_prefix", Input: g.Input,
		Output: []*protos.ValueInfoProto{valueInfo(cut, append([]int64{-1}, cutShape...))}}
	for i, n := range g.Node {
		if inPrefix[i] {
			pg.Node = append(pg.Node, n)
		}
	}
	for _, t := range g.Initializer {
		if needed[t.Name] {
			pg.Initializer = append(pg.Initializer, t)
		}
	}
	pm := &protos.ModelProto{IrVersion: m.IrVersion, OpsetImport: m.OpsetImport, ProducerName: "multilabel-finetune", Graph: pg}
	if s.Prefix, err = proto.Marshal(pm); err != nil {
		return nil, fmt.Errorf("finetune: prefix graph: %w", err)
	}
	return s, nil
}

// WriteBack returns the feature model with the tail's initializers replaced by values
// (one per Weight, in order): the same graph, the trained weights.
func (s *Split) WriteBack(values [][]float32) ([]byte, error) {
	if len(values) != len(s.Weights) {
		return nil, fmt.Errorf("finetune: write back: %d tensors for %d weights", len(values), len(s.Weights))
	}
	m := proto.Clone(s.full).(*protos.ModelProto)
	byName := map[string]int{}
	for i, w := range s.Weights {
		if len(values[i]) != w.Size() {
			return nil, fmt.Errorf("finetune: write back %s: %d values, want %d", w.Name, len(values[i]), w.Size())
		}
		byName[w.Name] = i
	}
	done := 0
	for _, t := range m.Graph.Initializer {
		if i, ok := byName[t.Name]; ok {
			t.RawData = nil
			t.FloatData = append([]float32(nil), values[i]...)
			t.DataLocation = protos.TensorProto_DEFAULT
			t.ExternalData = nil
			done++
		}
	}
	if done != len(s.Weights) {
		return nil, fmt.Errorf("finetune: write back: %d of %d weights found in the graph", done, len(s.Weights))
	}
	return proto.Marshal(m)
}

// InitialWeights returns copies of the tail's weights as loaded.
func (s *Split) InitialWeights() [][]float32 {
	out := make([][]float32, len(s.Weights))
	for i, w := range s.Weights {
		out[i] = append([]float32(nil), w.Data...)
	}
	return out
}

func valueInfo(name string, dims []int64) *protos.ValueInfoProto {
	shape := &protos.TensorShapeProto{}
	for _, d := range dims {
		if d < 0 {
			shape.Dim = append(shape.Dim, &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimParam{DimParam: "N"}})
		} else {
			shape.Dim = append(shape.Dim, &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
	}
	return &protos.ValueInfoProto{Name: name, Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{
		TensorType: &protos.TypeProto_Tensor{ElemType: dtFloat, Shape: shape}}}}
}

// floats decodes a float32 initializer.
func floats(t *protos.TensorProto) ([]float32, error) {
	n := 1
	for _, d := range t.Dims {
		n *= int(d)
	}
	if t.DataLocation == protos.TensorProto_EXTERNAL {
		return nil, fmt.Errorf("finetune: weight %q has external data (load the model with its data first)", t.Name)
	}
	if len(t.FloatData) > 0 {
		if len(t.FloatData) != n {
			return nil, fmt.Errorf("finetune: weight %q: %d values for shape %v", t.Name, len(t.FloatData), t.Dims)
		}
		return append([]float32(nil), t.FloatData...), nil
	}
	if len(t.RawData) != 4*n {
		return nil, fmt.Errorf("finetune: weight %q: %d raw bytes for shape %v", t.Name, len(t.RawData), t.Dims)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.RawData[4*i:]))
	}
	return out, nil
}
