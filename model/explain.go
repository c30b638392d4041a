package model

import (
	"errors"
	"fmt"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/headparams"
)

// Per-label activation maps (Options.Explain).
//
// For the linear head the map of label j at location l of the spatial map at the cut
// (C×H×W) is the head applied to that location's C-vector, as if the image were that one
// location: standardisation, dense layer, no sigmoid — a logit per location. For the MLP
// it is the same with the head linearised at the image's pooled features (below).
// For the linear head, the head is folded into a 1×1 convolution appended to the
// backbone graph, so the engine computes the maps in the same run as the features (the
// backbone runs once); for the MLP the same run outputs the map at the cut as well.
//
//   - linear head, average pooling: the exact class activation map (Zhou et al. 2016):
//     the head is affine and pooling is the mean, so the mean of label j's map over the
//     H·W locations equals its logit.
//   - linear head, max pooling: the same per-location affine map; the image's logit is
//     the head at the channel-wise maximum, which no single location need reach, so the
//     map shows where each channel's evidence lies, not a decomposition of the logit.
//   - avgmax pooling: the location's vector stands for both the average and the max
//     half of the pooled features (the two halves of the first layer are summed).
//   - MLP head: the head linearised at the image's pooled features (the on/off pattern
//     of its hidden ReLUs at this image kept, so the head is affine there; see
//     headparams.LinearizeAt), applied per location — a class activation map of the
//     MLP whose mean, with average pooling, is exactly the label's logit. The graph
//     outputs the map at the cut and Go computes the maps (Out·C·(H·W + active
//     hidden units) multiply-adds an image), instead of a Hidden×C 1×1 convolution
//     at every location.

// ExplainOutput is the name of the explain graph's output: per image the pooled
// features (the bundle graph's output) then the label maps, [N, D + labels·H·W].
const ExplainOutput = "multilabel_explain"

// ErrCannotExplain is matched (errors.Is) by the errors of New with Options.Explain
// that say the bundle cannot draw maps (no spatial cut, a head kind without maps, no
// recorded feature node); it matches errkind.ErrBadInput too.
var ErrCannotExplain = errkind.Sentinel("the model cannot draw activation maps", errkind.ErrBadInput)

// explainer is what a Model opened with Options.Explain knows about its maps.
type explainer struct {
	c, h, w int // the map at the cut
	d       int // feature length (the head's input)
	out     int // labels
	// extra is the length of what the explain graph outputs per image after the
	// features: the maps themselves ([out][h][w]) unless toMaps is set, which turns
	// one image's features and extra output into its maps (the MLP's maps, computed in
	// Go from the map at the cut).
	extra  int
	toMaps func(features, extra []float32) ([]float32, error)
	graph  []byte
}

// rowLen is the length of one image's engine output.
func (e *explainer) rowLen() int { return e.d + e.extra }

// mapLen is the length of one image's maps.
func (e *explainer) mapLen() int { return e.out * e.h * e.w }

// newExplainer checks that b can explain itself and builds its explain graph: the
// bundle's backbone graph with the per-location head appended. The one place a head
// kind is matched to its maps: a kind that draws maps differently (attention weights)
// is one more case here.
func newExplainer(b *bundle.Bundle) (*explainer, error) {
	info := b.BackboneInfo
	if info.FeatureNode == "" {
		return nil, fmt.Errorf("model: explain: %w: the bundle does not record its feature node (it predates explain); retrain it to draw maps", ErrCannotExplain)
	}
	bb, err := backbone.LoadBytes(b.Backbone, "the bundle's backbone", backbone.Options{FeatureNode: info.FeatureNode, Spec: &b.Spec})
	if err != nil {
		return nil, fmt.Errorf("model: explain: %w: %w", ErrCannotExplain, err)
	}
	c, h, w, err := bb.SpatialShape()
	if err != nil {
		return nil, fmt.Errorf("model: %w: explain needs a spatial map at the cut (backbone %s): %w", ErrCannotExplain, info.Name, err)
	}
	e := &explainer{c: c, h: h, w: w, d: b.Head.In, out: b.Head.Out, extra: b.Head.Out * h * w}
	// nodes end in "multilabel_maps", which the graph outputs (flattened) after the
	// features. A head whose maps come from Go outputs its input there instead
	// (an Identity of the cut: extra = c·h·w) and sets toMaps.
	var nodes []*protos.NodeProto
	var inits []*protos.TensorProto
	switch {
	case b.Head.Kind == headparams.Attention:
		// The attention head reads the spatial map itself (the bundle graph outputs it,
		// flattened); the maps are its attention weights over the H·W tokens, computed by
		// the head's first half appended to the graph (bundle.AttentionMapNodes), so the
		// engine draws them in the run that computes the features.
		if b.Head.In != c*h*w {
			return nil, fmt.Errorf("model: explain: %w: attention head input %d does not match the %d×%d×%d map at the cut", ErrCannotExplain, b.Head.In, c, h, w)
		}
		opset, err2 := graphOpset(b.Backbone)
		if err2 != nil {
			return nil, err2
		}
		nodes, inits = bundle.AttentionMapNodes(&b.Head, bundle.FeatureOutput, "multilabel_maps", "multilabel_attn", opset)
	case b.Head.Pool != "":
		err = fmt.Errorf("model: explain: %w: maps for a head that pools inside itself (--pool %s) not supported", ErrCannotExplain, b.Head.Pool)
	case b.Head.Kind == headparams.MLP:
		// The graph outputs the map at the cut after the features; Go applies the MLP
		// linearised at the image's pooled features to each location (mlpMaps).
		copies, err2 := locationCopies(&b.Head, info.Pool, c)
		if err2 != nil {
			return nil, err2
		}
		head := b.Head
		e.extra = c * h * w
		e.toMaps = func(features, cut []float32) ([]float32, error) { return mlpMaps(&head, copies, c, h*w, features, cut) }
		nodes = []*protos.NodeProto{{Name: "multilabel_maps", OpType: "Identity", Input: []string{bb.FeatureNode}, Output: []string{"multilabel_maps"}}}
	case b.Head.Kind == headparams.Linear:
		nodes, inits, err = locationHead(&b.Head, info.Pool, bb.FeatureNode, c)
	default:
		err = fmt.Errorf("model: explain: %w: maps for head kind %q not supported", ErrCannotExplain, b.Head.Kind)
	}
	if err != nil {
		return nil, err
	}
	if e.graph, err = appendMaps(b.Backbone, nodes, inits, e.rowLen()); err != nil {
		return nil, err
	}
	return e, nil
}

// locationHead returns the nodes that apply the linear head at every location of the
// cut [N,C,H,W], giving "multilabel_maps" [N,Out,H,W]: the standardisation and, for
// avgmax, the two halves of the layer folded into one 1×1 convolution. (MLP heads take
// mlpMaps instead.)
func locationHead(p *headparams.Params, pool, cut string, c int) ([]*protos.NodeProto, []*protos.TensorProto, error) {
	copies, err := locationCopies(p, pool, c)
	if err != nil {
		return nil, nil, err
	}
	first := p.Out
	// Folded layer, as a Conv weight [first][C][1][1] and bias [first]:
	// w[o][k] = Σ_copies W1[k'][o]/σ[k'], b[o] = B1[o] − Σ_k' μ[k']/σ[k']·W1[k'][o].
	w := make([]float32, first*c)
	bias := make([]float32, first)
	copy(bias, p.B1)
	for r := 0; r < copies; r++ {
		for k := 0; k < c; k++ {
			kk := r*c + k
			scale, shift := float32(1), float32(0)
			if len(p.Std) > 0 {
				scale, shift = 1/p.Std[kk], p.Mean[kk]/p.Std[kk]
			}
			row := p.W1[kk*first : (kk+1)*first]
			for o, v := range row {
				w[o*c+k] += v * scale
				bias[o] -= v * shift
			}
		}
	}
	tensor := func(name string, dims []int64, v []float32) *protos.TensorProto {
		return &protos.TensorProto{Name: name, Dims: dims, DataType: int32(protos.TensorProto_FLOAT), FloatData: v}
	}
	conv := func(name, in, wName, bName string) *protos.NodeProto {
		return &protos.NodeProto{Name: name, OpType: "Conv", Input: []string{in, wName, bName}, Output: []string{name},
			Attribute: []*protos.AttributeProto{{Name: "kernel_shape", Type: protos.AttributeProto_INTS, Ints: []int64{1, 1}}}}
	}
	inits := []*protos.TensorProto{tensor("multilabel_map_w1", []int64{int64(first), int64(c), 1, 1}, w), tensor("multilabel_map_b1", []int64{int64(first)}, bias)}
	return []*protos.NodeProto{conv("multilabel_maps", cut, "multilabel_map_w1", "multilabel_map_b1")}, inits, nil
}

// locationCopies is how many times the c channels of one location stand in the head's
// input: 2 for avgmax (the average and the max half), else 1.
func locationCopies(p *headparams.Params, pool string, c int) (int, error) {
	switch {
	case pool == backbone.PoolAvgMax && p.In == 2*c:
		return 2, nil
	case p.In != c:
		return 0, fmt.Errorf("model: explain: %w: head input %d does not match the %d channels at the cut (pooling %q)", ErrCannotExplain, p.In, c, pool)
	}
	return 1, nil
}

// mlpMaps computes the maps of an MLP head for one image from its pooled features and
// the map at the cut (c channels × hw locations, channel-major): the head linearised at
// the features (headparams.LinearizeAt: its hidden units' on/off pattern at this image
// kept), applied to each location's vector (standing for every copy in the input). With
// average pooling the mean of label j's map is then exactly its logit.
func mlpMaps(p *headparams.Params, copies, c, hw int, features, cut []float32) ([]float32, error) {
	if len(cut) != c*hw {
		return nil, fmt.Errorf("the graph gives %d values of the cut, want %d×%d", len(cut), c, hw)
	}
	w, b, err := p.LinearizeAt(features)
	if err != nil {
		return nil, err
	}
	out := make([]float32, p.Out*hw)
	wk := make([]float32, c)
	for j := 0; j < p.Out; j++ {
		row := w[j*p.In : (j+1)*p.In]
		copy(wk, row[:c])
		for r := 1; r < copies; r++ {
			for k, v := range row[r*c : (r+1)*c] {
				wk[k] += v
			}
		}
		m := out[j*hw : (j+1)*hw]
		for l := range m {
			m[l] = b[j]
		}
		for k, v := range wk {
			if v == 0 {
				continue
			}
			for l, x := range cut[k*hw : (k+1)*hw] {
				m[l] += v * x
			}
		}
	}
	return out, nil
}

// graphOpset returns the default-domain opset an ONNX model imports.
func graphOpset(graph []byte) (int64, error) {
	m := &protos.ModelProto{}
	if err := proto.Unmarshal(graph, m); err != nil {
		return 0, fmt.Errorf("model: explain: bundle backbone is not ONNX: %w", err)
	}
	opset := int64(0)
	for _, o := range m.OpsetImport {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			opset = o.Version
		}
	}
	return opset, nil
}

// appendMaps returns the bundle graph with nodes (ending in "multilabel_maps"
// [N,Out,H,W]) appended and one output ExplainOutput [N,rowLen]: the features, then
// the flattened maps.
func appendMaps(graph []byte, nodes []*protos.NodeProto, inits []*protos.TensorProto, rowLen int) ([]byte, error) {
	m := &protos.ModelProto{}
	if err := proto.Unmarshal(graph, m); err != nil {
		return nil, fmt.Errorf("model: explain: bundle backbone is not ONNX: %w", err)
	}
	g := m.Graph
	if g == nil || len(g.Output) != 1 || g.Output[0].Name != bundle.FeatureOutput {
		return nil, errors.New("model: explain: the bundle's backbone graph must have one output, " + bundle.FeatureOutput)
	}
	g.Node = append(g.Node, nodes...)
	g.Node = append(g.Node,
		&protos.NodeProto{Name: "multilabel_maps_flat", OpType: "Flatten", Input: []string{"multilabel_maps"}, Output: []string{"multilabel_maps_flat"},
			Attribute: []*protos.AttributeProto{{Name: "axis", Type: protos.AttributeProto_INT, I: 1}}},
		&protos.NodeProto{Name: ExplainOutput, OpType: "Concat", Input: []string{bundle.FeatureOutput, "multilabel_maps_flat"}, Output: []string{ExplainOutput},
			Attribute: []*protos.AttributeProto{{Name: "axis", Type: protos.AttributeProto_INT, I: 1}}})
	g.Initializer = append(g.Initializer, inits...)
	g.Output = []*protos.ValueInfoProto{{Name: ExplainOutput, Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{
		TensorType: &protos.TypeProto_Tensor{ElemType: int32(protos.TensorProto_FLOAT), Shape: &protos.TensorShapeProto{Dim: []*protos.TensorShapeProto_Dimension{
			{Value: &protos.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
			{Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: int64(rowLen)}}}}}}}}}
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("model: explain: serializing: %w", err)
	}
	return data, nil
}
