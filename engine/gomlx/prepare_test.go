package gomlx

import (
	"context"
	"math"
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"
)

// oldSoftmaxModel is x [N,2,3] -> Dropout -> Softmax(axis=1) -> y in opset 11, where the
// softmax runs over the 6 values of each sample.
func oldSoftmaxModel(t *testing.T) []byte {
	t.Helper()
	dim := func(v int64) *protos.TensorShapeProto_Dimension {
		if v < 0 {
			return &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimParam{DimParam: "n"}}
		}
		return &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: v}}
	}
	vi := func(name string) *protos.ValueInfoProto {
		return &protos.ValueInfoProto{Name: name, Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{
			TensorType: &protos.TypeProto_Tensor{ElemType: int32(protos.TensorProto_FLOAT),
				Shape: &protos.TensorShapeProto{Dim: []*protos.TensorShapeProto_Dimension{dim(-1), dim(2), dim(3)}}}}}}
	}
	m := &protos.ModelProto{
		IrVersion:   6,
		OpsetImport: []*protos.OperatorSetIdProto{{Domain: "", Version: 11}},
		Graph: &protos.GraphProto{
			Name: "old_softmax",
			Node: []*protos.NodeProto{
				{OpType: "Dropout", Input: []string{"x"}, Output: []string{"d", "mask"},
					Attribute: []*protos.AttributeProto{{Name: "ratio", Type: protos.AttributeProto_FLOAT, F: 0.5}}},
				{OpType: "Softmax", Input: []string{"d"}, Output: []string{"y"},
					Attribute: []*protos.AttributeProto{{Name: "axis", Type: protos.AttributeProto_INT, I: 1}}},
			},
			Input:  []*protos.ValueInfoProto{vi("x")},
			Output: []*protos.ValueInfoProto{vi("y")},
		},
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOldSoftmaxAndDropout(t *testing.T) {
	t.Parallel()
	e, err := Open(oldSoftmaxModel(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	x := []float32{0, 1, 2, 3, 4, 5, -1, -1, -1, -1, -1, 1}
	y, err := e.Run(context.Background(), x, 2)
	if err != nil {
		t.Fatal(err)
	}
	for s := range 2 {
		sum := 0.0
		for _, v := range x[s*6 : (s+1)*6] {
			sum += math.Exp(float64(v))
		}
		for i := range 6 {
			want := math.Exp(float64(x[s*6+i])) / sum
			if got := float64(y[s*6+i]); math.Abs(got-want) > 1e-6 {
				t.Fatalf("sample %d value %d: got %.6f, want %.6f (softmax over all 6 values)", s, i, got, want)
			}
		}
	}
}

func TestDropoutMaskUsedIsAnError(t *testing.T) {
	t.Parallel()
	var m protos.ModelProto
	if err := proto.Unmarshal(oldSoftmaxModel(t), &m); err != nil {
		t.Fatal(err)
	}
	m.Graph.Node[1].Input[0] = "mask"
	b, _ := proto.Marshal(&m)
	if e, err := Open(b, Options{}); err == nil {
		e.Close()
		t.Fatal("a graph that uses the Dropout mask: want an error")
	}
}
