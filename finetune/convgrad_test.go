package finetune

import (
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
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
