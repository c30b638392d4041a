package finetune

import (
	"reflect"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// onnxConvGrad: on ONNX Runtime, the kernel gradient of a native convolution (stride 1,
// group 1, no dilation, NCHW) is one MatMul of the output gradient with the im2col of
// the input, instead of GoMLX's convolution over the batch (which ONNX Runtime runs as
// many small matrix products). The input gradient stays GoMLX's (a stride-1 Conv, correct
// on compute-onnx: TestGradientConformance). Used with lowering.native1.
var onnxConvGrad = true

// perTapMinPositions: convKernelGrad makes one MatMul per kernel tap (no im2col
// Concat) when the output has at least this many positions per image, else one MatMul
// of the concatenated taps. Measured on ONNX Runtime (interleaved pairs, b32):
// SqueezeNet whole network (maps of 111², 55², 27², 13²) per tap everywhere 24.7, 23.5,
// 21.7, 23.2, 20.2 images/s against 19.6, 21.5, 21.3, 19.8, 21.6 with the Concat; fire9
// alone (13²) 309, 374 per tap against 363, 377 — so per tap only on the larger maps.
var perTapMinPositions = 400

// oneHotMaxChannels: strided convolutions with fewer input channels than this take
// their kernel gradient's im2col from oneHotTaps (see convStridedGrads). Measured on
// ResNet-18's 7×7/2 stem (whole-network steps, b32, interleaved): 6.7 and 6.8 images/s
// against 6.3 and 5.8 with the NHWC Concat (runs of 3 values), which profiled at 420 ms
// of a 5.9 s step.
var oneHotMaxChannels = 8

// batchedPointwise: the kernel gradient of a 1×1 convolution on a large map is one
// MatMul per image (see convKernelGrad). Measured on ONNX Runtime: MobileNetV2 224²
// step profile Transpose 251 → 109 ms, kernel time 5.87 → 5.45 s; fire9 (b32) 146, 155
// → 155, 163 images per CPU second; SqueezeNet whole 20.7, 20.3 → 21.0, 20.6 images/s
// (interleaved pairs).
var batchedPointwise = true

// nchwConv is ConvGeneral's axes for NCHW inputs, OIHW kernels and NCHW outputs (ONNX's
// layout): the convolutions the gradients here handle, and the ones they build.
var nchwConv = compute.ConvolveAxesConfig{InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
	KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
	OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3}}

// gomlxConvVJP is GoMLX's own gradient of ConvGeneral.
var gomlxConvVJP = graph.VJPRegistration[graph.NodeTypeConvGeneral]

// gomlxMaxVJP and gomlxMinVJP are GoMLX's own gradients of Max and Min.
var (
	gomlxMaxVJP = graph.VJPRegistration[graph.NodeTypeMax]
	gomlxMinVJP = graph.VJPRegistration[graph.NodeTypeMin]
)

func init() {
	graph.VJPRegistration[graph.NodeTypeConvGeneral] = convVJP
	graph.VJPRegistration[graph.NodeTypeMax] = minMaxVJP(gomlxMaxVJP, false)
	graph.VJPRegistration[graph.NodeTypeMin] = minMaxVJP(gomlxMinVJP, true)
}

// onnxMaxGrad: on ONNX Runtime, the gradient of Max(a, b) (ReLU as imported, the upper
// and lower bounds of Clip/ReLU6, the lowered max pooling) is v·m for a and v - v·m for
// b, with m the comparison a >= b as 0/1 of v's type (for Min, a < b) — the same values
// as GoMLX's (ties go to a; for Min, to b), in 3 passes over the tensor instead of
// GoMLX's 5 (Sign and friends) and faster than a Where (measured: the mask as a product
// is about 1.6× faster than Where on ONNX Runtime's CPU kernels). A scalar operand (a
// Clip bound) gets the sum of its side; Where(m, v, 0) and v·m differ only where v is
// infinite, which a finite loss rules out.
var onnxMaxGrad = true

// onONNX reports whether node is built for ONNX Runtime.
func onONNX(node *graph.Node) bool {
	be := node.Graph().Backend()
	return be != nil && loweringForName(be.Name()).phases
}

// minMaxVJP wraps GoMLX's gradient of Max (isMin false) or Min.
func minMaxVJP(gomlx graph.VJP, isMin bool) graph.VJP {
	return func(node *graph.Node, v []*graph.Node, outShape shapes.Shape) []*graph.Node {
		in := node.Inputs()
		full := func(x *graph.Node) bool { return x.Shape().Equal(node.Shape()) }
		scalar := func(x *graph.Node) bool { return x.Rank() == 0 && x.DType() == node.DType() }
		if !onnxMaxGrad || len(v) != 1 || len(in) != 2 || !node.DType().IsFloat() || !onONNX(node) ||
			!v[0].Shape().Equal(node.Shape()) || !(full(in[0]) || scalar(in[0])) || !(full(in[1]) || scalar(in[1])) ||
			!(full(in[0]) || full(in[1])) {
			return gomlx(node, v, outShape)
		}
		var first *graph.Node
		if isMin {
			first = graph.LessThan(in[0], in[1]) // GoMLX: a's side where a < b
		} else {
			first = graph.GreaterOrEqual(in[0], in[1])
		}
		ga := graph.Mul(v[0], graph.ConvertDType(first, v[0].DType()))
		gb := graph.Sub(v[0], ga)
		if scalar(in[0]) {
			ga = graph.ReduceAllSum(ga)
		}
		if scalar(in[1]) {
			gb = graph.ReduceAllSum(gb)
		}
		return []*graph.Node{ga, gb}
	}
}

// convVJP is GoMLX's ConvGeneral gradient everywhere except on ONNX Runtime (with
// onnxConvGrad) for the convolutions convKernelGrad handles.
func convVJP(node *graph.Node, v []*graph.Node, outShape shapes.Shape) []*graph.Node {
	if onnxConvGrad && len(v) == 1 && onONNX(node) {
		if p, ok := convParamsOf(node); ok {
			if p.channelGroups > 1 {
				if g := depthwiseGrads(node, v[0], p); g != nil {
					return g
				}
			}
			// Strided: GoMLX's input gradient (input dilation) cannot be built there.
			if !allOnes(p.strides) {
				if g := convStridedGrads(node, v[0], p); g != nil {
					return g
				}
			}
		}
	}
	grads := gomlxConvVJP(node, v, outShape)
	if !onnxConvGrad || len(v) != 1 || len(grads) != 2 {
		return grads
	}
	if !onONNX(node) {
		return grads
	}
	p, ok := convParamsOf(node)
	if !ok {
		return grads
	}
	if dw := convKernelGrad(node, v[0], p); dw != nil {
		grads[1] = dw // GoMLX's kernel gradient is left unused: compute-onnx drops it
	}
	return grads
}

// convParams are the parameters of a ConvGeneral node.
type convParams struct {
	axes                                     compute.ConvolveAxesConfig
	strides, inputDilations, kernelDilations []int
	paddings                                 [][2]int
	channelGroups, batchGroups               int
}

// nodeParams returns the struct of n's unexported parameters ("inputs" in GoMLX's
// node; reflect reads it, and TestConvParamsOf fails if GoMLX renames it). ok is false
// when it cannot be read.
func nodeParams(n *graph.Node) (v reflect.Value, ok bool) {
	v = reflect.ValueOf(n).Elem().FieldByName("inputs")
	for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) {
		v = v.Elem()
	}
	return v, v.IsValid() && v.Kind() == reflect.Struct
}

// reflectInts reads the []int field name of v.
func reflectInts(v reflect.Value, name string) []int {
	f := v.FieldByName(name)
	out := make([]int, f.Len())
	for i := range out {
		out[i] = int(f.Index(i).Int())
	}
	return out
}

// reflectPairs reads the [][2]int field name of v (per-axis low/high paddings).
func reflectPairs(v reflect.Value, name string) [][2]int {
	f := v.FieldByName(name)
	out := make([][2]int, f.Len())
	for i := range out {
		out[i] = [2]int{int(f.Index(i).Index(0).Int()), int(f.Index(i).Index(1).Int())}
	}
	return out
}

// convParamsOf reads the parameters of ConvGeneral node n (GoMLX keeps them unexported;
// reflect reads them). ok is false when they cannot be read.
func convParamsOf(n *graph.Node) (p convParams, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if n.Type() != graph.NodeTypeConvGeneral || len(n.Inputs()) != 2 {
		return p, false
	}
	in, ok := nodeParams(n)
	if !ok {
		return p, false
	}
	ints := func(name string) []int { return reflectInts(in, name) }
	p.strides, p.inputDilations, p.kernelDilations = ints("strides"), ints("inputDilations"), ints("kernelDilations")
	p.paddings = reflectPairs(in, "paddings")
	p.channelGroups = int(in.FieldByName("channelGroupCount").Int())
	p.batchGroups = int(in.FieldByName("batchGroupCount").Int())
	a := in.FieldByName("axes")
	ai := func(name string) int { return int(a.FieldByName(name).Int()) }
	as := func(name string) []int {
		f := a.FieldByName(name)
		out := make([]int, f.Len())
		for i := range out {
			out[i] = int(f.Index(i).Int())
		}
		return out
	}
	p.axes = compute.ConvolveAxesConfig{
		InputBatch: ai("InputBatch"), InputChannels: ai("InputChannels"), InputSpatial: as("InputSpatial"),
		KernelInputChannels: ai("KernelInputChannels"), KernelOutputChannels: ai("KernelOutputChannels"), KernelSpatial: as("KernelSpatial"),
		OutputBatch: ai("OutputBatch"), OutputChannels: ai("OutputChannels"), OutputSpatial: as("OutputSpatial"),
	}
	return p, true
}

func allOnes(v []int) bool {
	for _, x := range v {
		if x != 1 {
			return false
		}
	}
	return true
}

// convKernelGrad returns the gradient of a 2-D NCHW/OIHW convolution of stride 1, group
// 1 and no dilation with respect to its kernel, for output gradient v [N, O, Ho, Wo]:
// dW[o, c, i, j] = Σ_{n,h,w} v[n, o, h, w]·xpad[n, c, h+i, w+j], as one MatMul of
// v as [O, N·Ho·Wo] with the kernel taps of the padded input as [N·Ho·Wo, kh·kw·C]. nil
// when the convolution is not of that kind.
func convKernelGrad(node, v *graph.Node, p convParams) *graph.Node {
	x, k := node.Inputs()[0], node.Inputs()[1]
	if x.Rank() != 4 || k.Rank() != 4 || v.Rank() != 4 || !reflect.DeepEqual(p.axes, nchwConv) ||
		p.channelGroups != 1 || p.batchGroups != 1 || !allOnes(p.strides) || !allOnes(p.inputDilations) || !allOnes(p.kernelDilations) {
		return nil
	}
	pads := [2][2]int{}
	if len(p.paddings) == 2 {
		pads = [2][2]int{p.paddings[0], p.paddings[1]}
	} else if len(p.paddings) != 0 {
		return nil
	}
	xd, kd, vd := x.Shape().Dimensions, k.Shape().Dimensions, v.Shape().Dimensions
	N, C, H, W := xd[0], xd[1], xd[2], xd[3]
	O, kh, kw := kd[0], kd[2], kd[3]
	Ho, Wo := vd[2], vd[3]
	if kd[1] != C || vd[0] != N || vd[1] != O || Ho != H+pads[0][0]+pads[0][1]-kh+1 || Wo != W+pads[1][0]+pads[1][1]-kw+1 {
		return nil
	}
	for _, pp := range pads {
		if pp[0] < 0 || pp[1] < 0 {
			return nil
		}
	}
	if kh == 1 && kw == 1 && pads == [2][2]int{} && batchedPointwise && H*W*(O+C) >= 2*O*C {
		// A pointwise convolution on a map large against its channels: per image, the
		// output gradient [O, HW] times the input [C, HW] transposed (ONNX Runtime fuses
		// that transpose into the MatMul), summed over the batch — no full-size
		// transposes of x and v to [C, N·H·W] rows, whose copies outweigh the N·O·C
		// partial products here.
		vr := graph.Reshape(v, N, O, H*W)
		xr := graph.Reshape(graph.StopGradient(x), N, C, H*W)
		dw := graph.ReduceSum(graph.DotGeneral(vr, []int{2}, []int{0}, xr, []int{2}, []int{0}), 0) // [O, C]
		return graph.Reshape(dw, O, C, 1, 1)
	}
	xs := graph.StopGradient(x)
	xs = graph.TransposeAllDims(xs, 0, 2, 3, 1) // NHWC
	if pads != [2][2]int{} {
		xs = graph.Pad(xs, graph.ScalarZero(x.Graph(), x.DType()), compute.PadAxis{}, compute.PadAxis{Start: pads[0][0], End: pads[0][1]},
			compute.PadAxis{Start: pads[1][0], End: pads[1][1]}, compute.PadAxis{})
	}
	taps := []*graph.Node{xs} // [N, Ho, Wo, C] each, row-major
	if kh != 1 || kw != 1 {
		taps = make([]*graph.Node, 0, kh*kw)
		for i := range kh {
			for j := range kw {
				taps = append(taps, graph.Slice(xs, graph.AxisRange(), graph.AxisRange(i, i+Ho), graph.AxisRange(j, j+Wo), graph.AxisRange()))
			}
		}
	}
	vt := graph.Reshape(graph.TransposeAllDims(v, 1, 0, 2, 3), O, N*Ho*Wo)
	var dw *graph.Node
	if len(taps) > 1 && Ho*Wo >= perTapMinPositions {
		prods := make([]*graph.Node, len(taps))
		for t, tap := range taps {
			prods[t] = graph.MatMul(vt, graph.Reshape(tap, N*Ho*Wo, C)) // [O, C]
		}
		dw = graph.Stack(prods, 1) // [O, kh·kw, C]
	} else {
		cols := graph.Reshape(graph.Concatenate(taps, 3), N*Ho*Wo, kh*kw*C) // tap-major
		dw = graph.MatMul(vt, cols)                                         // [O, kh·kw·C]
	}
	return graph.TransposeAllDims(graph.Reshape(dw, O, kh, kw, C), 0, 3, 1, 2) // OIHW
}

// convStridedGrads returns the input and kernel gradients of a strided 2-D NCHW/OIHW
// convolution of group 1 without dilation (a native Conv on ONNX Runtime, where GoMLX's
// input gradient, a convolution with input dilation, is refused), for output gradient
// v: with the output gradient as rows [N·Ho·Wo, O], the gradient of the im2col columns
// is one MatMul with the kernel, summed back into the input by phaseWindow.col2im
// (stride-phase Pads and a Reshape, no interior padding); the kernel gradient is one
// MatMul with the im2col of the input (phaseWindow.taps). nil when not of that kind.
func convStridedGrads(node, v *graph.Node, p convParams) []*graph.Node {
	x, k := node.Inputs()[0], node.Inputs()[1]
	if x.Rank() != 4 || k.Rank() != 4 || v.Rank() != 4 || !reflect.DeepEqual(p.axes, nchwConv) || len(p.strides) != 2 ||
		p.channelGroups != 1 || p.batchGroups != 1 || !allOnes(p.inputDilations) || !allOnes(p.kernelDilations) {
		return nil
	}
	pads := [2][2]int{}
	if len(p.paddings) == 2 {
		pads = [2][2]int{p.paddings[0], p.paddings[1]}
	} else if len(p.paddings) != 0 {
		return nil
	}
	xd, kd, vd := x.Shape().Dimensions, k.Shape().Dimensions, v.Shape().Dimensions
	N, C, H, W := xd[0], xd[1], xd[2], xd[3]
	O, kh, kw := kd[0], kd[2], kd[3]
	sh, sw := p.strides[0], p.strides[1]
	Ho, Wo := vd[2], vd[3]
	if sh <= 0 || sw <= 0 || kd[1] != C || vd[0] != N || vd[1] != O ||
		Ho != (H+pads[0][0]+pads[0][1]-kh)/sh+1 || Wo != (W+pads[1][0]+pads[1][1]-kw)/sw+1 {
		return nil
	}
	for _, pp := range pads {
		if pp[0] < 0 || pp[1] < 0 {
			return nil
		}
	}
	T, M := kh*kw, N*Ho*Wo
	pw := phaseWindow{kh: kh, kw: kw, sh: sh, sw: sw, pads: pads, H: H, W: W, Ho: Ho, Wo: Wo}
	vrows := graph.Reshape(graph.TransposeAllDims(v, 0, 2, 3, 1), M, O)
	// Input gradient.
	wk := graph.Reshape(graph.TransposeAllDims(k, 0, 2, 3, 1), O, T*C) // [O, (kh, kw, C)]
	dcols := graph.Reshape(graph.MatMul(vrows, graph.StopGradient(wk)), N, Ho, Wo, T, C)
	g := make([]*graph.Node, T)
	for t := range T {
		g[t] = graph.Reshape(graph.Slice(dcols, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(), graph.AxisRange(t, t+1), graph.AxisRange()), N, Ho, Wo, C)
	}
	dx := graph.TransposeAllDims(pw.col2im(g), 0, 3, 1, 2)
	// Kernel gradient.
	if C < oneHotMaxChannels {
		// Few channels (an RGB stem): NHWC taps would be concatenated in runs of C
		// values; the one-hot Conv lays them out as [N, C·T, Ho·Wo] instead, and v as
		// [N, O, Ho·Wo] needs no transpose: dW = Σ_n v[n]·cols[n]ᵀ, already OIHW.
		cols := graph.Reshape(oneHotTaps(graph.StopGradient(x), kh, kw, sh, sw, pads, 0, Ho, Wo), N, C*T, Ho*Wo)
		prod := graph.DotGeneral(graph.Reshape(v, N, O, Ho*Wo), []int{2}, []int{0}, cols, []int{2}, []int{0}) // [N, O, C·T]
		return []*graph.Node{dx, graph.Reshape(graph.ReduceSum(prod, 0), O, C, kh, kw)}
	}
	xs := graph.TransposeAllDims(graph.StopGradient(x), 0, 2, 3, 1)
	cols := graph.Reshape(graph.Concatenate(pw.taps(xs, graph.ScalarZero(x.Graph(), x.DType())), 3), M, T*C)
	dw := graph.MatMul(graph.TransposeAllDims(vrows, 1, 0), cols)            // [O, (kh, kw, C)]
	dw = graph.TransposeAllDims(graph.Reshape(dw, O, kh, kw, C), 0, 3, 1, 2) // OIHW
	return []*graph.Node{dx, dw}
}

// depthwiseParams checks that a ConvGeneral node is a 2-D NCHW/OIHW depthwise
// convolution (channel groups = input channels = output channels, one input channel per
// group) without dilation, with pads of at most kernel−1 on each side, for output
// gradient v; it returns the kernel size, strides and pads. ok is false otherwise.
func depthwiseParams(node, v *graph.Node, p convParams) (kh, kw, sh, sw int, pads [2][2]int, ok bool) {
	x, k := node.Inputs()[0], node.Inputs()[1]
	if x.Rank() != 4 || k.Rank() != 4 || v.Rank() != 4 || !reflect.DeepEqual(p.axes, nchwConv) || len(p.strides) != 2 ||
		p.batchGroups != 1 || !allOnes(p.inputDilations) || !allOnes(p.kernelDilations) {
		return 0, 0, 0, 0, pads, false
	}
	if len(p.paddings) == 2 {
		pads = [2][2]int{p.paddings[0], p.paddings[1]}
	} else if len(p.paddings) != 0 {
		return 0, 0, 0, 0, pads, false
	}
	xd, kd, vd := x.Shape().Dimensions, k.Shape().Dimensions, v.Shape().Dimensions
	N, C, H, W := xd[0], xd[1], xd[2], xd[3]
	kh, kw, sh, sw = kd[2], kd[3], p.strides[0], p.strides[1]
	if C < 2 || p.channelGroups != C || kd[0] != C || kd[1] != 1 || sh <= 0 || sw <= 0 || vd[0] != N || vd[1] != C ||
		vd[2] != (H+pads[0][0]+pads[0][1]-kh)/sh+1 || vd[3] != (W+pads[1][0]+pads[1][1]-kw)/sw+1 || vd[2] <= 0 || vd[3] <= 0 {
		return 0, 0, 0, 0, pads, false
	}
	for a, kk := range []int{kh, kw} {
		if pads[a][0] < 0 || pads[a][1] < 0 || pads[a][0] > kk-1 || pads[a][1] > kk-1 {
			return 0, 0, 0, 0, pads, false
		}
	}
	return kh, kw, sh, sw, pads, true
}

// depthwiseGrads returns the input and kernel gradients of a depthwise convolution
// (depthwiseParams) for output gradient v, with ops compute-onnx builds natively and
// ONNX Runtime runs fast, instead of GoMLX's (input dilation and batch groups, both
// refused by compute-onnx v0.1.13) or the lowering of the convolution to per-channel
// matrix products of its im2col (kh·kw copies of every activation, kept for the
// backward pass):
//   - input: v with stride−1 zeros inserted between its rows and columns (a Concat with
//     zeros and a Reshape, no interior padding), then one stride-1 depthwise Conv with
//     the spatially flipped kernel and pads kernel−1−pad;
//   - kernel: one grouped Conv over the batch (per channel, the padded input's N images
//     as input channels, v's as an Ho×Wo kernel dilated by the stride). Measured on
//     MobileNetV2 whole-network steps (b32, interleaved pairs): 6.9, 7.4, 6.5, 6.1
//     images/s against 6.7, 7.2, 6.0, 6.0 for a sum over the kh·kw taps of v times the
//     tap's strided slice (the kernel time of the step profiled 4.8 s against 5.9).
//
// nil when the convolution is not of that kind.
func depthwiseGrads(node, v *graph.Node, p convParams) []*graph.Node {
	kh, kw, sh, sw, pads, ok := depthwiseParams(node, v, p)
	if !ok {
		return nil
	}
	x, k := node.Inputs()[0], node.Inputs()[1]
	g := x.Graph()
	xd, vd := x.Shape().Dimensions, v.Shape().Dimensions
	N, C, H, W := xd[0], xd[1], xd[2], xd[3]
	Ho, Wo := vd[2], vd[3]
	// Input gradient.
	u := v
	Lh, Lw := sh*(Ho-1)+1, sw*(Wo-1)+1
	back := [][2]int{{kh - 1 - pads[0][0], H + pads[0][0] - Lh}, {kw - 1 - pads[1][0], W + pads[1][0] - Lw}}
	if sh > 1 || sw > 1 {
		u = graph.Reshape(v, N, C, Ho, 1, Wo, 1)
		if sw > 1 {
			u = graph.Concatenate([]*graph.Node{u, graph.Zeros(g, shapes.Make(v.DType(), N, C, Ho, 1, Wo, sw-1))}, 5)
		}
		if sh > 1 {
			u = graph.Concatenate([]*graph.Node{u, graph.Zeros(g, shapes.Make(v.DType(), N, C, Ho, sh-1, Wo, sw))}, 3)
		}
		u = graph.Reshape(u, N, C, Ho*sh, Wo*sw)
		// The last stride-1 rows and columns are zeros: the Conv's end padding absorbs
		// them (a full-size Slice less) where it has that much to give.
		if back[0][1] >= sh-1 && back[1][1] >= sw-1 {
			back[0][1] -= sh - 1
			back[1][1] -= sw - 1
		} else {
			u = graph.Slice(u, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(0, Lh), graph.AxisRange(0, Lw))
		}
	}
	flipped := graph.Reverse(graph.StopGradient(k), 2, 3)
	dx := graph.ConvGeneral(u, flipped, p.axes, []int{1, 1}, back, nil, nil, C, 1)
	// Kernel gradient.
	xp := graph.StopGradient(x)
	// One grouped Conv over the batch: per channel c, x[:, c] as N input channels
	// correlated with v[:, c] as an N-channel kernel of Ho×Wo, dilated by the stride,
	// gives dW[c] — no per-tap slices, products or sums.
	// Only the rows and columns some tap reaches: then the output is kh×kw exactly. The
	// Conv pads the input itself, its end padding cut to those rows and columns (no Pad,
	// no Slice: two full-size copies less), where that leaves it non-negative.
	Hp, Wp := sh*(Ho-1)+kh, sw*(Wo-1)+kw
	endH, endW := Hp-H-pads[0][0], Wp-W-pads[1][0]
	var convPad [][2]int
	if endH >= 0 && endW >= 0 {
		convPad = [][2]int{{pads[0][0], endH}, {pads[1][0], endW}}
		Hp, Wp = H, W
	} else {
		if pads != [2][2]int{} {
			xp = graph.Pad(xp, graph.ScalarZero(g, x.DType()), compute.PadAxis{}, compute.PadAxis{},
				compute.PadAxis{Start: pads[0][0], End: pads[0][1]}, compute.PadAxis{Start: pads[1][0], End: pads[1][1]})
		}
		xp = graph.Slice(xp, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(0, Hp), graph.AxisRange(0, Wp))
	}
	xt := graph.Reshape(graph.TransposeAllDims(xp, 1, 0, 2, 3), 1, C*N, Hp, Wp)
	vt := graph.TransposeAllDims(v, 1, 0, 2, 3)                                             // [C, N, Ho, Wo]
	dw := graph.ConvGeneral(xt, vt, p.axes, []int{1, 1}, convPad, nil, []int{sh, sw}, C, 1) // [1, C, kh, kw]
	return []*graph.Node{dx, graph.Reshape(dw, C, 1, kh, kw)}
}
