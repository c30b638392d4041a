package finetune

import (
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"google.golang.org/protobuf/proto"
)

// TestConvParamsOf guards the reflection convVJP relies on: should GoMLX rename the
// fields of its ConvGeneral node, the ONNX Runtime kernel gradient would silently fall
// back to GoMLX's own (correct but slow).
func TestConvParamsOf(t *testing.T) {
	g := graph.NewGraph(gobackend.GetBackend(), "conv")
	x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, 2, 3, 7, 7))
	k := graph.Parameter(g, "k", shapes.Make(dtypes.Float32, 4, 3, 3, 3))
	axes := compute.ConvolveAxesConfig{InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
		KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3}}
	y := graph.ConvGeneral(x, k, axes, []int{1, 1}, [][2]int{{1, 2}, {0, 1}}, nil, []int{1, 1}, 1, 1)
	p, ok := convParamsOf(y)
	if !ok {
		t.Fatal("convParamsOf: parameters not readable")
	}
	if p.paddings[0] != [2]int{1, 2} || p.paddings[1] != [2]int{0, 1} || len(p.strides) != 2 || p.strides[0] != 1 ||
		p.channelGroups != 1 || p.batchGroups != 1 || p.axes.KernelSpatial[1] != 3 || p.axes.OutputChannels != 1 {
		t.Fatalf("convParamsOf = %+v", p)
	}
	if _, ok := convParamsOf(graph.Add(x, x)); ok {
		t.Fatal("convParamsOf accepted an Add node")
	}
}

// TestDepthwiseStaysNative: on ONNX Runtime the conformance suite's depthwise cases keep
// their native Conv (so TestGradientConformance checks depthwiseGrads), and without
// nativeDepthwise they are lowered.
func TestDepthwiseStaysNative(t *testing.T) {
	seen := 0
	for _, c := range loadConformance(t) {
		if c.Name != "conv3x3_depthwise_p1" && c.Name != "conv3x3_depthwise_s2_p1" {
			continue
		}
		seen++
		b, err := c.model()
		if err != nil {
			t.Fatal(err)
		}
		for _, native := range []bool{true, false} {
			lw := loweringForName("onnxruntime")
			lw.nativeDepthwise = native
			out, _, err := lowerConvs(b, c.shape, lw)
			if err != nil {
				t.Fatal(err)
			}
			m := &protos.ModelProto{}
			if err := proto.Unmarshal(out, m); err != nil {
				t.Fatal(err)
			}
			convs := 0
			for _, n := range m.Graph.Node {
				if n.OpType == "Conv" {
					convs++
				}
			}
			if want := map[bool]int{true: 1, false: 0}[native]; convs != want {
				t.Errorf("%s nativeDepthwise=%v: %d Conv nodes after lowering, want %d", c.Name, native, convs, want)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("found %d of the 2 depthwise conformance cases", seen)
	}
}
