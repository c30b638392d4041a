package bundle

import (
	"encoding/json"
	"fmt"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/headparams"
)

// FeatureOutput is the name of the output of a bundle's backbone graph (the feature
// vectors [N,D]); backbone.FeatureModel writes graphs with it.
const FeatureOutput = "multilabel_features"

// ExportOutput is the name of the exported graph's output: per-label probabilities
// [batch, labels].
const ExportOutput = "probabilities"

// Metadata keys written into the exported ONNX model (ModelProto.metadata_props).
const (
	MetaLabels     = "multilabel.labels"     // JSON array of label names, in output order
	MetaThresholds = "multilabel.thresholds" // JSON array of per-label thresholds
	MetaPreprocess = "multilabel.preprocess" // JSON imageio.Spec
	MetaModelID    = "multilabel.model_id"   // the bundle's id (sha256 of its manifest)
	// MetaDecision is a JSON object {"rule": "f1"|"precision:P"|"recall:R",
	// "calibrated": bool}: the rule that chose multilabel.thresholds (a label is
	// predicted when probabilities[j] >= thresholds[j]); calibrated says the training's
	// temperatures are already in the graph (never divide again).
	MetaDecision = "multilabel.decision"
)

// exportDecision is the value of MetaDecision.
type exportDecision struct {
	Rule       string `json:"rule"`
	Calibrated bool   `json:"calibrated"`
}

// ExportONNX returns one ONNX graph that takes the image tensor the bundle's
// preprocessing produces and outputs per-label probabilities: the bundle's backbone, then
// the head (feature standardisation, dense layers) and a sigmoid, with labels,
// thresholds and preprocessing in the model's metadata. Any ONNX Runtime host (Triton,
// KServe, onnxruntime for Python/Node/C#) can run it.
func ExportONNX(b *Bundle) ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	m := &protos.ModelProto{}
	if err := proto.Unmarshal(b.Backbone, m); err != nil {
		return nil, fmt.Errorf("export: bundle backbone is not ONNX: %w", err)
	}
	g := m.Graph
	if g == nil || len(g.Output) != 1 {
		return nil, fmt.Errorf("export: backbone graph must have exactly one output (the features)")
	}
	feat := g.Output[0].Name
	if feat != FeatureOutput {
		return nil, fmt.Errorf("export: backbone output is %q, want %q", feat, FeatureOutput)
	}
	h := b.Head
	add := func(op string, inputs []string, output string) {
		g.Node = append(g.Node, &protos.NodeProto{OpType: op, Input: inputs, Output: []string{output}, Name: output})
	}
	constant := func(name string, dims []int64, vals []float32) string {
		g.Initializer = append(g.Initializer, &protos.TensorProto{Name: name, Dims: dims,
			DataType: int32(protos.TensorProto_FLOAT), FloatData: append([]float32(nil), vals...)})
		return name
	}
	x := feat
	opset := int64(0)
	for _, o := range m.OpsetImport {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			opset = o.Version
		}
	}
	e := &exporter{g: g, opset: opset}
	if h.Pool != "" {
		x = e.pool(&h, x)
	}
	if len(h.Mean) > 0 && h.Kind != headparams.Attention {
		// (x - mean) / std, in this order, as headparams.Params.Standardize computes it.
		add("Sub", []string{x, constant("head_mean", []int64{int64(h.Width())}, h.Mean)}, "head_centered")
		add("Div", []string{"head_centered", constant("head_std", []int64{int64(h.Width())}, h.Std)}, "head_standardized")
		x = "head_standardized"
	}
	in := int64(h.Width())
	switch h.Kind {
	case headparams.Attention:
		e.attention(&h, x, "head_logits")
	case headparams.Linear:
		add("MatMul", []string{x, constant("head_w1", []int64{in, int64(h.Out)}, h.W1)}, "head_mm1")
		add("Add", []string{"head_mm1", constant("head_b1", []int64{int64(h.Out)}, h.B1)}, "head_logits")
	case headparams.MLP:
		add("MatMul", []string{x, constant("head_w1", []int64{in, int64(h.Hidden)}, h.W1)}, "head_mm1")
		add("Add", []string{"head_mm1", constant("head_b1", []int64{int64(h.Hidden)}, h.B1)}, "head_hidden_pre")
		add("Relu", []string{"head_hidden_pre"}, "head_hidden")
		add("MatMul", []string{"head_hidden", constant("head_w2", []int64{int64(h.Hidden), int64(h.Out)}, h.W2)}, "head_mm2")
		add("Add", []string{"head_mm2", constant("head_b2", []int64{int64(h.Out)}, h.B2)}, "head_logits")
	default:
		return nil, fmt.Errorf("export: unknown head kind %q", h.Kind)
	}
	add("Sigmoid", []string{"head_logits"}, ExportOutput)

	batch := &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}}
	if t := g.Output[0].GetType().GetTensorType(); t != nil && t.Shape != nil && len(t.Shape.Dim) > 0 {
		batch = t.Shape.Dim[0]
	}
	g.Output = []*protos.ValueInfoProto{{
		Name: ExportOutput,
		Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{TensorType: &protos.TypeProto_Tensor{
			ElemType: int32(protos.TensorProto_FLOAT),
			Shape: &protos.TensorShapeProto{Dim: []*protos.TensorShapeProto_Dimension{
				batch, {Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: int64(h.Out)}}}},
		}}},
	}}

	meta := func(k string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		for _, p := range m.MetadataProps {
			if p.Key == k {
				p.Value = string(data)
				return nil
			}
		}
		m.MetadataProps = append(m.MetadataProps, &protos.StringStringEntryProto{Key: k, Value: string(data)})
		return nil
	}
	for _, kv := range []struct {
		k string
		v any
	}{{MetaLabels, b.Labels}, {MetaThresholds, b.Thresholds}, {MetaPreprocess, b.Spec}, {MetaModelID, b.ID},
		{MetaDecision, exportDecision{Rule: b.Rule(), Calibrated: b.Decision != nil && (len(b.Decision.Temperatures) > 0 || len(b.Decision.PlattA) > 0)}}} {
		if err := meta(kv.k, kv.v); err != nil {
			return nil, fmt.Errorf("export: metadata %s: %w", kv.k, err)
		}
	}
	m.ProducerName = "multilabel"
	m.DocString = "multi-label classifier: image tensor in, per-label probabilities out (see metadata multilabel.*)"
	return proto.Marshal(m)
}
