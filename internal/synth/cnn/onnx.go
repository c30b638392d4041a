package cnn

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"
)

// ONNX names of the exported graph's input and outputs.
const (
	InputName    = "input"
	FeaturesName = "features"
	LogitsName   = "logits"
	// MetaArch is the metadata key holding the Arch as JSON.
	MetaArch = "multilabel.synth.arch"
)

// ExportONNX writes the network as an ONNX model (opset 13, IR version 7): input
// "input" [N,3,Size,Size] float32 with a dynamic batch, outputs "logits" [N,Classes]
// (the source classifier) — the pooled "features" [N,FeatureDim] are the Flatten node's
// output, where a backbone is cut for transfer. The bytes are deterministic for given
// weights.
func (n *Net) ExportONNX(docString string) ([]byte, error) {
	if err := n.Arch.Validate(); err != nil {
		return nil, err
	}
	specs := n.Arch.paramSpecs()
	if len(specs) != len(n.Params) {
		return nil, fmt.Errorf("cnn: export: %d parameters, want %d", len(n.Params), len(specs))
	}
	g := &protos.GraphProto{Name: "synth_resnet"}
	for i, p := range n.Params {
		if p.Name != specs[i].Name || prod(p.Dims) != len(p.Data) {
			return nil, fmt.Errorf("cnn: export: parameter %d is %q %v with %d values, want %q %v",
				i, p.Name, p.Dims, len(p.Data), specs[i].Name, specs[i].Dims)
		}
		raw := make([]byte, 4*len(p.Data))
		for k, v := range p.Data {
			binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(v))
		}
		dims := make([]int64, len(p.Dims))
		for k, d := range p.Dims {
			dims[k] = int64(d)
		}
		g.Initializer = append(g.Initializer, &protos.TensorProto{Name: p.Name, Dims: dims,
			DataType: int32(protos.TensorProto_FLOAT), RawData: raw})
	}
	ints := func(name string, v ...int64) *protos.AttributeProto {
		return &protos.AttributeProto{Name: name, Type: protos.AttributeProto_INTS, Ints: v}
	}
	node := func(op, name string, in []string, out string, attrs ...*protos.AttributeProto) string {
		g.Node = append(g.Node, &protos.NodeProto{OpType: op, Name: name, Input: in, Output: []string{out}, Attribute: attrs})
		return out
	}
	convNode := func(x, p string, stride int64) string {
		return node("Conv", p, []string{x, p + ".w", p + ".b"}, p+".out",
			ints("kernel_shape", 3, 3), ints("pads", 1, 1, 1, 1), ints("strides", stride, stride), ints("dilations", 1, 1))
	}
	relu := func(x, name string) string { return node("Relu", name+".relu", []string{x}, name+".relu") }
	blockNode := func(x, b string) string {
		h := relu(convNode(x, b+".c1", 1), b+".c1")
		h = convNode(h, b+".c2", 1)
		return relu(node("Add", b+".add", []string{x, h}, b+".add"), b)
	}
	x := relu(convNode(InputName, "stem", 1), "stem")
	x = blockNode(x, "b1")
	x = relu(convNode(x, "d1", 2), "d1")
	x = blockNode(x, "b2")
	x = relu(convNode(x, "d2", 2), "d2")
	x = blockNode(x, "b3")
	x = node("GlobalAveragePool", "pool", []string{x}, "pool")
	x = node("Flatten", "flatten", []string{x}, FeaturesName, &protos.AttributeProto{Name: "axis", Type: protos.AttributeProto_INT, I: 1})
	node("Gemm", "fc", []string{x, "fc.w", "fc.b"}, LogitsName,
		&protos.AttributeProto{Name: "transB", Type: protos.AttributeProto_INT, I: 1})

	tensorType := func(name string, dims ...any) *protos.ValueInfoProto {
		shape := &protos.TensorShapeProto{}
		for _, d := range dims {
			switch d := d.(type) {
			case string:
				shape.Dim = append(shape.Dim, &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimParam{DimParam: d}})
			case int:
				shape.Dim = append(shape.Dim, &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
			}
		}
		return &protos.ValueInfoProto{Name: name, Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{
			TensorType: &protos.TypeProto_Tensor{ElemType: int32(protos.TensorProto_FLOAT), Shape: shape}}}}
	}
	a := n.Arch
	g.Input = []*protos.ValueInfoProto{tensorType(InputName, "N", 3, a.Size, a.Size)}
	g.Output = []*protos.ValueInfoProto{tensorType(LogitsName, "N", a.Classes)}
	archJSON, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	m := &protos.ModelProto{
		IrVersion:       7,
		OpsetImport:     []*protos.OperatorSetIdProto{{Domain: "", Version: 13}},
		ProducerName:    "multilabel-synth",
		ProducerVersion: "1",
		DocString:       docString,
		Graph:           g,
		MetadataProps:   []*protos.StringStringEntryProto{{Key: MetaArch, Value: string(archJSON)}},
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// ImportONNX reads a network written by ExportONNX back (by initializer names; the
// architecture comes from the metadata and is checked against the weight shapes).
func ImportONNX(data []byte) (*Net, error) {
	var m protos.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("cnn: import: not an ONNX model: %w", err)
	}
	var a Arch
	found := false
	for _, kv := range m.MetadataProps {
		if kv.Key == MetaArch {
			if err := json.Unmarshal([]byte(kv.Value), &a); err != nil {
				return nil, fmt.Errorf("cnn: import: metadata %s: %w", MetaArch, err)
			}
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("cnn: import: metadata %s missing: not a synth backbone", MetaArch)
	}
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("cnn: import: %w", err)
	}
	if m.Graph == nil {
		return nil, fmt.Errorf("cnn: import: model has no graph")
	}
	inits := map[string]*protos.TensorProto{}
	for _, t := range m.Graph.Initializer {
		inits[t.Name] = t
	}
	n := &Net{Arch: a, Params: a.paramSpecs()}
	for i := range n.Params {
		p := &n.Params[i]
		t, ok := inits[p.Name]
		if !ok {
			return nil, fmt.Errorf("cnn: import: initializer %q missing", p.Name)
		}
		if len(t.Dims) != len(p.Dims) {
			return nil, fmt.Errorf("cnn: import: initializer %q has shape %v, want %v", p.Name, t.Dims, p.Dims)
		}
		for k, d := range t.Dims {
			if int(d) != p.Dims[k] {
				return nil, fmt.Errorf("cnn: import: initializer %q has shape %v, want %v", p.Name, t.Dims, p.Dims)
			}
		}
		size := prod(p.Dims)
		switch {
		case t.DataType != int32(protos.TensorProto_FLOAT):
			return nil, fmt.Errorf("cnn: import: initializer %q has data type %d, want float", p.Name, t.DataType)
		case len(t.RawData) == 4*size:
			p.Data = make([]float32, size)
			for k := range p.Data {
				p.Data[k] = math.Float32frombits(binary.LittleEndian.Uint32(t.RawData[4*k:]))
			}
		case len(t.FloatData) == size:
			p.Data = append([]float32(nil), t.FloatData...)
		default:
			return nil, fmt.Errorf("cnn: import: initializer %q: %d raw bytes / %d floats for %d values",
				p.Name, len(t.RawData), len(t.FloatData), size)
		}
	}
	return n, nil
}

// IsSynth reports whether an ONNX file was written by ExportONNX.
func IsSynth(data []byte) bool {
	var m protos.ModelProto
	if proto.Unmarshal(data, &m) != nil {
		return false
	}
	for _, kv := range m.MetadataProps {
		if kv.Key == MetaArch && strings.HasPrefix(kv.Value, "{") {
			return true
		}
	}
	return false
}
