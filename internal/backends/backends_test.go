package backends_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/internal/backends"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{"": backends.Auto, "auto": backends.Auto, "ONNX": backends.ONNX,
		"ort": backends.ONNX, "go": backends.Go, "pure-go": backends.Go, "xla": backends.XLA} {
		if got, err := backends.Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := backends.Parse("tpu"); !errors.Is(err, backends.ErrUnknown) {
		t.Errorf("Parse(tpu): want ErrUnknown, got %v", err)
	}
}

// TestONNXWithoutLibrary: a missing library is an error naming it for "onnx" (never a
// download) and a fall-back for "auto".
func TestONNXWithoutLibrary(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ONNXRUNTIME_LIB", filepath.Join(dir, "nothing", "libonnxruntime.so.1"))
	t.Setenv("XDG_CACHE_HOME", dir)
	t.Setenv("HOME", dir)
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", dir)
	_, err := backends.Select("onnx", backends.Options{})
	if !errors.Is(err, ort.ErrNoLibrary) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("onnx without a library: want ErrNoLibrary naming the path, got %v", err)
	}
	c, err := backends.Select("auto", backends.Options{})
	if err != nil || c.Kind != backends.Go || !strings.Contains(c.Reason, "no usable ONNX Runtime") {
		t.Fatalf("auto without a library: %+v %v", c, err)
	}
}

// reluModel is a one-node ONNX graph y = Relu(x), x and y [N, 4].
func reluModel(t *testing.T) []byte {
	t.Helper()
	vi := func(name string) *protos.ValueInfoProto {
		return &protos.ValueInfoProto{Name: name, Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{TensorType: &protos.TypeProto_Tensor{
			ElemType: int32(protos.TensorProto_FLOAT),
			Shape: &protos.TensorShapeProto{Dim: []*protos.TensorShapeProto_Dimension{
				{Value: &protos.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
				{Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: 4}}}}}}}}
	}
	m := &protos.ModelProto{IrVersion: 8, OpsetImport: []*protos.OperatorSetIdProto{{Version: 13}},
		Graph: &protos.GraphProto{Name: "relu", Input: []*protos.ValueInfoProto{vi("x")}, Output: []*protos.ValueInfoProto{vi("y")},
			Node: []*protos.NodeProto{{Name: "r", OpType: "Relu", Input: []string{"x"}, Output: []string{"y"}}}}}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSharedLibrary runs inference through engine/ort (yalue/onnxruntime_go) and a
// training step (value and gradient) on the onnx backend (compute-onnx's own binding)
// in one process, on the one pinned library, then inference again.
func TestSharedLibrary(t *testing.T) {
	lib := sharedtest.ORTLib(t)
	eng, err := ort.Open(reluModel(t), ort.Options{LibPath: lib, IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	infer := func() {
		t.Helper()
		y, err := eng.Run(context.Background(), []float32{-1, 2, -3, 4}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if y[0] != 0 || y[1] != 2 || y[2] != 0 || y[3] != 4 {
			t.Fatalf("inference: %v", y)
		}
	}
	infer()

	c, err := backends.Select("onnx", backends.Options{ORTLib: lib})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != backends.ONNX || !strings.Contains(c.Desc, lib) {
		t.Fatalf("choice %+v", c)
	}
	if got := ort.Library(); got != lib {
		t.Fatalf("inference loaded %q, training %q: want one library", got, lib)
	}
	// loss = sum(w*x)^2 / 2, dloss/dw = (w·x) x.
	exec, err := graph.NewExec(c.Backend, func(w, x *graph.Node) (*graph.Node, *graph.Node) {
		s := graph.ReduceAllSum(graph.Mul(w, x))
		l := graph.MulScalar(graph.Mul(s, s), 0.5)
		return l, graph.Gradient(l, w)[0]
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions([]float32{1, 2, 3}, 3), tensors.FromFlatDataAndDimensions([]float32{0.5, -1, 2}, 3))
	if err != nil {
		t.Fatal(err)
	}
	l := tensors.ToScalar[float32](out[0])
	g := tensors.MustCopyFlatData[float32](out[1])
	// w·x = 0.5 - 2 + 6 = 4.5
	if math.Abs(float64(l)-10.125) > 1e-5 || math.Abs(float64(g[0])-2.25) > 1e-5 || math.Abs(float64(g[1])+4.5) > 1e-5 || math.Abs(float64(g[2])-9) > 1e-5 {
		t.Fatalf("step on onnx: loss %v grad %v", l, g)
	}
	infer()

	auto, err := backends.Select("auto", backends.Options{ORTLib: lib})
	if err != nil || auto.Kind != backends.ONNX || auto.Backend != c.Backend {
		t.Fatalf("auto with the library: %+v %v (want the same onnx backend)", auto, err)
	}
}
