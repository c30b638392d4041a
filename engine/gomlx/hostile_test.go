package gomlx

import (
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/errkind"
)

// TestHostileModels: a cycle (once a stack overflow) and a declared 10^12-element tensor
// (once an out-of-memory fatal error) are refused with bad-input errors.
func TestHostileModels(t *testing.T) {
	t.Parallel()
	var base protos.ModelProto
	if err := proto.Unmarshal(oldSoftmaxModel(t), &base); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(g *protos.GraphProto){
		"cycle": func(g *protos.GraphProto) {
			g.Node = []*protos.NodeProto{
				{OpType: "Relu", Input: []string{"b"}, Output: []string{"a"}},
				{OpType: "Add", Input: []string{"x", "a"}, Output: []string{"b"}},
				{OpType: "Identity", Input: []string{"b"}, Output: []string{"y"}},
			}
		},
		"huge tensor": func(g *protos.GraphProto) {
			g.Initializer = []*protos.TensorProto{{Name: "w", Dims: []int64{1_000_000, 1_000_000}, DataType: int32(protos.TensorProto_FLOAT)}}
			g.Node = []*protos.NodeProto{{OpType: "Add", Input: []string{"x", "w"}, Output: []string{"y"}}}
		},
		"overflow": func(g *protos.GraphProto) {
			g.Initializer = []*protos.TensorProto{{Name: "w", Dims: []int64{1 << 62, 1 << 62}, DataType: int32(protos.TensorProto_FLOAT)}}
			g.Node = []*protos.NodeProto{{OpType: "Add", Input: []string{"x", "w"}, Output: []string{"y"}}}
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := proto.Clone(&base).(*protos.ModelProto)
			edit(m.Graph)
			b, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			e, err := Open(b, Options{})
			if err == nil {
				e.Close()
				t.Fatal("Open accepted a hostile model")
			}
			if !errkind.IsBadInput(err) {
				t.Errorf("%v does not match errkind.ErrBadInput", err)
			}
			t.Log(err)
		})
	}
}
