package ort_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// TestHostileModels: malformed models are refused with errors that match
// errkind.ErrBadInput (exit code 2), whether our check or ONNX Runtime finds the fault.
func TestHostileModels(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(sharedtest.Root(), "backbone", "testdata", "tiny_gemm.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var base protos.ModelProto
	if err := proto.Unmarshal(raw, &base); err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(g *protos.GraphProto){
		"cycle": func(g *protos.GraphProto) {
			last := g.Node[len(g.Node)-1]
			g.Node[0].Input[0] = last.Output[0]
		},
		"huge tensor": func(g *protos.GraphProto) {
			g.Initializer[0].Dims = []int64{1_000_000, 1_000_000}
			g.Initializer[0].RawData, g.Initializer[0].FloatData = nil, nil
		},
		"external traversal": func(g *protos.GraphProto) {
			t := g.Initializer[0]
			t.RawData, t.FloatData = nil, nil
			t.DataLocation = protos.TensorProto_EXTERNAL
			t.ExternalData = []*protos.StringStringEntryProto{{Key: "location", Value: "../../../../etc/passwd"}}
		},
		"unknown op": func(g *protos.GraphProto) { g.Node[0].OpType = "NoSuchOp" },
	}
	lib := sharedtest.ORTLib(t)
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			m := proto.Clone(&base).(*protos.ModelProto)
			edit(m.Graph)
			b, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			e, err := ort.Open(b, ort.Options{LibPath: lib})
			if err == nil {
				e.Close()
				t.Fatal("hostile model accepted")
			}
			if !errkind.IsBadInput(err) {
				t.Errorf("%v does not match errkind.ErrBadInput", err)
			}
		})
	}
	if _, err := ort.Open([]byte("not a model"), ort.Options{LibPath: lib}); !errkind.IsBadInput(err) {
		t.Errorf("garbage model: %v, want a bad-input error", err)
	}
}
