package onnxattr

import (
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
)

func TestAttributes(t *testing.T) {
	t.Parallel()
	n := &protos.NodeProto{Attribute: []*protos.AttributeProto{
		{Name: "axis", I: 2}, {Name: "pads", Ints: []int64{1, 1}}, {Name: "auto_pad", S: []byte("VALID")},
		{Name: "value", T: &protos.TensorProto{Name: "t"}},
	}}
	if Int(n, "axis", 1) != 2 || Int(n, "group", 1) != 1 {
		t.Error("Int")
	}
	if len(Ints(n, "pads")) != 2 || Ints(n, "strides") != nil {
		t.Error("Ints")
	}
	if String(n, "auto_pad") != "VALID" || String(n, "mode") != "" {
		t.Error("String")
	}
	if Tensor(n, "value").GetName() != "t" || Tensor(n, "other") != nil {
		t.Error("Tensor")
	}
}
