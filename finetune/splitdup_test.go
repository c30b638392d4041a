package finetune

import (
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"
)

// splitDupModel is the demo feature graph with one tail initializer listed twice: the
// shape of the FuzzSplitModel finding "write back: 9 of 8 weights found in the graph".
func splitDupModel(t testing.TB) []byte {
	_, fm := demoFeatures(t)
	var m protos.ModelProto
	if err := proto.Unmarshal(fm, &m); err != nil {
		t.Fatal(err)
	}
	g := m.Graph
	g.Initializer = append(g.Initializer, proto.Clone(g.Initializer[len(g.Initializer)-1]).(*protos.TensorProto))
	b, err := proto.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSplitDuplicateInitializer: a graph with two initializers of one name is refused
// by SplitModel instead of splitting into weights that cannot be written back.
func TestSplitDuplicateInitializer(t *testing.T) {
	t.Parallel()
	sp, err := SplitModel(splitDupModel(t), "d2.relu", []int64{32, 6, 6})
	if err == nil {
		_, werr := sp.WriteBack(sp.InitialWeights())
		t.Fatalf("SplitModel accepted a duplicated initializer (write back: %v)", werr)
	}
	t.Log(err)
}
