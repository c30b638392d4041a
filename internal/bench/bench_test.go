package bench

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/internal/half"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

func TestFloat32ToHalf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{0, 0}, {1, 0x3c00}, {-2, 0xc000}, {0.5, 0x3800}, {65504, 0x7bff}, {1e6, 0x7c00},
		{0.1, 0x2e66}, {1e-8, 0}, {6.1035156e-05, 0x0400}, {5.9604645e-08, 0x0001},
		{float32(math.Inf(-1)), 0xfc00},
	} {
		if got := half.FromFloat32(c.f); got != c.want {
			t.Errorf("float32ToHalf(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	v := make([]float64, 200)
	for i := range v {
		v[i] = float64(i + 1)
	}
	if p := percentile(v, 0.5); p != 100 {
		t.Errorf("p50 = %v, want 100", p)
	}
	if p := percentile(v, 0.99); p != 198 {
		t.Errorf("p99 = %v, want 198", p)
	}
	if p := percentile(nil, 0.5); p != 0 {
		t.Errorf("empty: %v", p)
	}
}

func TestReadList(t *testing.T) {
	t.Parallel()
	got, err := ReadList(strings.NewReader("# images\na.jpg\n\n  b.jpg  \r\n"))
	if err != nil || len(got) != 2 || got[0] != "a.jpg" || got[1] != "b.jpg" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func FuzzReadList(f *testing.F) {
	f.Add("a.jpg\n#x\n\nb.png")
	f.Add("\r\n\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		paths, err := ReadList(strings.NewReader(s))
		if err != nil {
			return // a line longer than the scanner's buffer
		}
		for _, p := range paths {
			if p == "" || strings.HasPrefix(p, "#") || strings.TrimSpace(p) != p {
				t.Fatalf("bad entry %q", p)
			}
		}
	})
}

// convModel is Y = Conv(X[N,3,16,16], W[8,3,3,3], pads 1): 8·16·16 outputs of 27
// multiply-adds each.
func convModel(t *testing.T) []byte {
	f := int32(protos.TensorProto_FLOAT)
	dims := func(ds ...int64) *protos.TensorShapeProto {
		s := &protos.TensorShapeProto{Dim: []*protos.TensorShapeProto_Dimension{{Value: &protos.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}}}
		for _, d := range ds {
			s.Dim = append(s.Dim, &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		return s
	}
	vi := func(name string, s *protos.TensorShapeProto) *protos.ValueInfoProto {
		return &protos.ValueInfoProto{Name: name, Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{TensorType: &protos.TypeProto_Tensor{ElemType: f, Shape: s}}}}
	}
	g := &protos.GraphProto{Name: "conv",
		Node: []*protos.NodeProto{{OpType: "Conv", Input: []string{"X", "W"}, Output: []string{"Y"},
			Attribute: []*protos.AttributeProto{{Name: "pads", Type: protos.AttributeProto_INTS, Ints: []int64{1, 1, 1, 1}}}}},
		Initializer: []*protos.TensorProto{{Name: "W", DataType: f, Dims: []int64{8, 3, 3, 3}, FloatData: make([]float32, 8*27)}},
		Input:       []*protos.ValueInfoProto{vi("X", dims(3, 16, 16))},
		Output:      []*protos.ValueInfoProto{vi("Y", dims(8, 16, 16))},
	}
	b, err := proto.Marshal(&protos.ModelProto{IrVersion: 8, Graph: g, OpsetImport: []*protos.OperatorSetIdProto{{Version: 13}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCountFLOPsAndPeak(t *testing.T) {
	t.Parallel()
	lib := sharedtest.ORTLib(t)
	if err := ensureORT(lib); err != nil {
		t.Fatal(err)
	}
	got, err := CountFLOPs(convModel(t), "X", []int64{3, 16, 16})
	if err != nil {
		t.Fatal(err)
	}
	if want := 2.0 * 8 * 16 * 16 * 27; got != want {
		t.Errorf("conv: %v FLOPs, want %v", got, want)
	}
	gm, err := gemmModel(64, 32)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := CountFLOPs(gm, "X", []int64{64}); err != nil || got != 2*64*32 {
		t.Errorf("gemm: %v FLOPs (%v), want %d", got, err, 2*64*32)
	}
	peak, err := PeakGFLOPS(SessionConfig{Threads: 1}, 64, 10*time.Millisecond)
	if err != nil || peak <= 0 {
		t.Errorf("peak %v, %v", peak, err)
	}
	if _, err := (SessionConfig{OptLevel: "fast"}).options(); err == nil {
		t.Error("unknown optimisation level accepted")
	}
}

func TestRunBadOptions(t *testing.T) {
	t.Parallel()
	if _, err := Run(context.Background(), Options{}); err == nil {
		t.Error("no images, no models: accepted")
	}
	if _, err := Run(context.Background(), Options{Images: []string{"a.jpg"}}); err == nil {
		t.Error("no models: accepted")
	}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	r := &Report{Batch: 32, Images: 512, PeakGFLOPS: 400, NumCPU: 2, GOMAXPROCS: 2, Threads: 2, Workers: 2,
		JPEGDecoder: "libjpeg-turbo", ORTVersion: "1.24.1", LoadBefore: "1.00 1.00 1.00", LoadAfter: "2.00 1.00 1.00",
		Rows: []Row{{Model: "resnet18", GFLOPPerImg: 3.6, Ceiling: 100, Engine: 99, EndToEnd: 85, PyTorch: 40, GoMLX: 0.5,
			LatencyP50: 12.5, LatencyP99: 20, Errors: []string{"x: y"}}},
		Settings: []Setting{{Model: "resnet18", Name: "batch size", Value: "1", ImagesPS: 80, Relative: 0.8}}}
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"85.0 (0.85×)", "99.0 (0.99×)", "40.0 (0.40×)", "0.50 (0.005×)", "360", "306", "76%", "12.5", "peak: 400 GFLOP/s",
		"load average: 1.00 1.00 1.00 before", "resnet18 ERROR x: y", "0.80×"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
