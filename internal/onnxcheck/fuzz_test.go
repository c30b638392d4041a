package onnxcheck

import (
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"
)

// FuzzCheck: any bytes that parse as a model give nil or a bad-input error, never a
// panic or a hang.
func FuzzCheck(f *testing.F) {
	good, _ := proto.Marshal(model())
	f.Add(good)
	cyc := model()
	cyc.Graph.Node[0].Input = []string{"x", "y"}
	b, _ := proto.Marshal(cyc)
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m protos.ModelProto
		if proto.Unmarshal(data, &m) != nil {
			return
		}
		_ = Check(&m, Limits{})
		_ = ExternalRefs(&m)
	})
}
