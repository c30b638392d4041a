package onnxcheck

import (
	"strings"
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"

	"github.com/multilabel/multilabel/errkind"
)

func vi(name string, dims ...int64) *protos.ValueInfoProto {
	var d []*protos.TensorShapeProto_Dimension
	for _, v := range dims {
		d = append(d, &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: v}})
	}
	return &protos.ValueInfoProto{Name: name, Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{
		TensorType: &protos.TypeProto_Tensor{ElemType: int32(protos.TensorProto_FLOAT), Shape: &protos.TensorShapeProto{Dim: d}}}}}
}

// model is x -> Add(x, w) -> y, with w a 2-float initializer.
func model() *protos.ModelProto {
	return &protos.ModelProto{IrVersion: 8, Graph: &protos.GraphProto{
		Node: []*protos.NodeProto{{Name: "add", OpType: "Add", Input: []string{"x", "w"}, Output: []string{"y"}}},
		Initializer: []*protos.TensorProto{{Name: "w", Dims: []int64{2},
			DataType: int32(protos.TensorProto_FLOAT), FloatData: []float32{1, 2}}},
		Input:  []*protos.ValueInfoProto{vi("x", 1, 2)},
		Output: []*protos.ValueInfoProto{vi("y", 1, 2)},
	}}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	if err := Check(model(), Limits{}); err != nil {
		t.Fatalf("valid model: %v", err)
	}
	cases := []struct {
		name, want string
		edit       func(m *protos.ModelProto)
	}{
		{"cycle", "cycle", func(m *protos.ModelProto) {
			// a = Relu(b), b = Relu(a), y = Add(x, a)
			g := m.Graph
			g.Node = []*protos.NodeProto{
				{Name: "r1", OpType: "Relu", Input: []string{"b"}, Output: []string{"a"}},
				{Name: "r2", OpType: "Relu", Input: []string{"a"}, Output: []string{"b"}},
				{Name: "add", OpType: "Add", Input: []string{"x", "a"}, Output: []string{"y"}},
			}
		}},
		{"self loop", "cycle", func(m *protos.ModelProto) {
			m.Graph.Node[0].Input = []string{"x", "y"}
		}},
		{"unknown input", "not a graph input", func(m *protos.ModelProto) {
			m.Graph.Node[0].Input = []string{"x", "nowhere"}
		}},
		{"two producers", "both produce", func(m *protos.ModelProto) {
			m.Graph.Node = append(m.Graph.Node, &protos.NodeProto{OpType: "Relu", Input: []string{"x"}, Output: []string{"y"}})
		}},
		{"huge declared initializer", "over the", func(m *protos.ModelProto) {
			m.Graph.Initializer[0] = &protos.TensorProto{Name: "w", Dims: []int64{1_000_000, 1_000_000}, DataType: int32(protos.TensorProto_FLOAT)}
		}},
		{"declared without data", "holds 0 values", func(m *protos.ModelProto) {
			m.Graph.Initializer[0] = &protos.TensorProto{Name: "w", Dims: []int64{1000}, DataType: int32(protos.TensorProto_FLOAT)}
		}},
		{"raw data short", "raw data has 4 bytes", func(m *protos.ModelProto) {
			m.Graph.Initializer[0] = &protos.TensorProto{Name: "w", Dims: []int64{2}, DataType: int32(protos.TensorProto_FLOAT), RawData: []byte{0, 0, 0, 0}}
		}},
		{"overflow", "overflow", func(m *protos.ModelProto) {
			m.Graph.Initializer[0] = &protos.TensorProto{Name: "w", Dims: []int64{1 << 40, 1 << 40}, DataType: int32(protos.TensorProto_FLOAT)}
		}},
		{"duplicate initializer", "appears twice", func(m *protos.ModelProto) {
			m.Graph.Initializer = append(m.Graph.Initializer, m.Graph.Initializer[0])
		}},
		{"negative dim", "negative", func(m *protos.ModelProto) {
			m.Graph.Initializer[0].Dims = []int64{-2}
		}},
		{"huge input", "over the", func(m *protos.ModelProto) {
			m.Graph.Input[0] = vi("x", 1, 3, 1<<20, 1<<20)
		}},
		{"input overflow", "overflow", func(m *protos.ModelProto) {
			m.Graph.Input[0] = vi("x", 1, 1<<40, 1<<40)
		}},
		{"constant of shape", "over the", func(m *protos.ModelProto) {
			m.Graph.Initializer = append(m.Graph.Initializer, &protos.TensorProto{Name: "s", Dims: []int64{2},
				DataType: int32(protos.TensorProto_INT64), Int64Data: []int64{1 << 20, 1 << 20}})
			m.Graph.Node = append([]*protos.NodeProto{{OpType: "ConstantOfShape", Input: []string{"s"}, Output: []string{"big"}}}, m.Graph.Node...)
		}},
		{"huge constant attribute", "over the", func(m *protos.ModelProto) {
			m.Graph.Node = append([]*protos.NodeProto{{OpType: "Constant", Output: []string{"c"},
				Attribute: []*protos.AttributeProto{{Name: "value", T: &protos.TensorProto{Dims: []int64{1 << 31, 4}, DataType: int32(protos.TensorProto_FLOAT)}}}}}, m.Graph.Node...)
		}},
		{"external data", "external data", func(m *protos.ModelProto) {
			m.Graph.Initializer[0] = &protos.TensorProto{Name: "w", Dims: []int64{2}, DataType: int32(protos.TensorProto_FLOAT),
				DataLocation: protos.TensorProto_EXTERNAL, ExternalData: []*protos.StringStringEntryProto{{Key: "location", Value: "../../etc/passwd"}}}
		}},
		{"cycle in subgraph", "cycle", func(m *protos.ModelProto) {
			sub := &protos.GraphProto{Node: []*protos.NodeProto{
				{OpType: "Relu", Input: []string{"q"}, Output: []string{"p"}},
				{OpType: "Relu", Input: []string{"p"}, Output: []string{"q"}},
			}}
			m.Graph.Node[0].Attribute = []*protos.AttributeProto{{Name: "then_branch", G: sub}}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := model()
			c.edit(m)
			err := Check(m, Limits{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Check = %v, want an error containing %q", err, c.want)
			}
			if !errkind.IsBadInput(err) {
				t.Errorf("%v does not match errkind.ErrBadInput", err)
			}
		})
	}
}

func TestExternalRefs(t *testing.T) {
	t.Parallel()
	m := model()
	if err := Check(m, Limits{AllowExternal: true}); err != nil {
		t.Fatal(err)
	}
	m.Graph.Initializer[0] = &protos.TensorProto{Name: "w", Dims: []int64{2}, DataType: int32(protos.TensorProto_FLOAT),
		DataLocation: protos.TensorProto_EXTERNAL, ExternalData: []*protos.StringStringEntryProto{{Key: "location", Value: "w.bin"}}}
	if err := Check(m, Limits{AllowExternal: true}); err != nil {
		t.Fatal(err)
	}
	if got := ExternalRefs(m); len(got) != 1 || got[0] != "w.bin" {
		t.Errorf("ExternalRefs = %v", got)
	}
}
