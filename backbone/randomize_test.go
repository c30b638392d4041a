package backbone

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"google.golang.org/protobuf/proto"
)

func TestRandomizeONNXSqueezeNet(t *testing.T) {
	dir := sharedtest.Dir(t, "models/squeezenet1.1")
	orig, err := os.ReadFile(filepath.Join(dir, "squeezenet1.1-fp16.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	a, st, err := RandomizeONNX(orig, 1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Weights != 26 || st.Reset != 26 {
		t.Errorf("stats %+v: want 26 conv weights and 26 biases", st)
	}
	b, _, err := RandomizeONNX(orig, 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Error("same seed gave different models")
	}
	c, _, _ := RandomizeONNX(orig, 2)
	if string(a) == string(c) {
		t.Error("different seeds gave the same model")
	}
	var mo, mr protos.ModelProto
	if err := proto.Unmarshal(orig, &mo); err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(a, &mr); err != nil {
		t.Fatal(err)
	}
	if len(mo.Graph.Node) != len(mr.Graph.Node) || len(mo.Graph.Initializer) != len(mr.Graph.Initializer) {
		t.Fatal("graph structure changed")
	}
	for i, ti := range mr.Graph.Initializer {
		to := mo.Graph.Initializer[i]
		if ti.GetName() != to.GetName() || ti.GetDataType() != to.GetDataType() || len(ti.GetDims()) != len(to.GetDims()) {
			t.Fatalf("initializer %d changed identity", i)
		}
		if ti.GetName() != "conv1_w_0" {
			continue
		}
		// conv1: 64×3×3×3, fan-in 27: std sqrt(2/27) ≈ 0.272.
		raw := ti.GetRawData()
		if len(raw) != 2*64*27 {
			t.Fatalf("conv1_w_0 raw size %d", len(raw))
		}
		var s, s2 float64
		for j := 0; j < len(raw); j += 2 {
			v := float64(float16ToFloat32(binary.LittleEndian.Uint16(raw[j:])))
			s += v
			s2 += v * v
		}
		n := float64(len(raw) / 2)
		std := math.Sqrt(s2/n - (s/n)*(s/n))
		if want := math.Sqrt(2.0 / 27); math.Abs(std-want) > 0.03 {
			t.Errorf("conv1 weight std %.3f, want ≈ %.3f", std, want)
		}
	}
	if _, _, err := RandomizeONNX([]byte("not an onnx file"), 1); err == nil {
		t.Error("garbage accepted")
	}
}

func float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0:
		return math.Float32frombits(sign) + float32(mant)*float32(math.Pow(2, -24))*sign1(sign)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp-15+127)<<23 | mant<<13)
}

func sign1(s uint32) float32 {
	if s != 0 {
		return -1
	}
	return 1
}
