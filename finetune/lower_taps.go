package finetune

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute-onnx/support/protos"

	"github.com/multilabel/multilabel/internal/onnxattr"
)

// lowering says how lowerConvs rewrites a tail graph for one backend. Every lowering
// computes the same function with the same weights; what differs is which ops (and so
// which gradients) the backend sees.
type lowering struct {
	// convs: 2-D convolutions of group 1 without dilation as im2col + MatMul (the
	// pure-Go backend's matrix product and its gradient are several times faster than
	// its convolution gradient).
	convs bool
	// phases: kernel taps are cut by one Reshape of the padded input into stride
	// phases and unit-step Slices, never a strided Slice, whose gradient (a Pad with
	// interior padding) compute-onnx v0.1.13 refuses. With phases, grouped, depthwise
	// and dilated convolutions are lowered too (batched MatMul per group), so no
	// ConvGeneral gradient is built: compute-onnx refuses the input dilation of a
	// strided convolution's input gradient and loops over groups.
	phases bool
	// pools: MaxPool as the maximum over its window's taps and AveragePool as their
	// mean. compute-onnx v0.1.13's max-pool gradient (SelectAndScatter through
	// ScatterElements without reduction="add") keeps one of the gradients of an input
	// picked by overlapping windows; its average-pool gradient needs interior padding.
	pools bool
	// native1: with phases, convolutions of group 1 and stride 1 stay native Conv
	// ops: compute-onnx differentiates them correctly (TestGradientConformance) and ONNX
	// Runtime's Conv kernels are fast.
	native1 bool
	// nativePools: with pools, MaxPool stays a native ONNX MaxPool (ceil mode as end
	// padding) and its gradient is maxPoolGrad (poolgrad.go), not the taps' maximum.
	nativePools bool
	// nativeStrided: with native1, strided convolutions of group 1 stay native Conv ops
	// too, differentiated by convStridedGrads (convgrad.go).
	nativeStrided bool
	// nativeDepthwise: with phases, depthwise convolutions (one input channel per
	// group, as many groups as channels, no dilation) stay native Conv ops,
	// differentiated by depthwiseGrads (convgrad.go), instead of per-channel matrix
	// products of their im2col.
	nativeDepthwise bool
}

// depthwiseOK reports whether Conv node n is a depthwise convolution depthwiseGrads
// differentiates (shape gives the tensors' batch-1 shapes).
func depthwiseOK(n *protos.NodeProto, shape func(string) []int64) bool {
	if len(n.Input) < 2 || len(n.Output) != 1 {
		return false
	}
	G := onnxattr.Int(n, "group", 1)
	ws, xs := shape(n.Input[1]), shape(n.Input[0])
	if G < 2 || len(ws) != 4 || len(xs) != 4 || ws[0] != G || ws[1] != 1 || xs[1] != G {
		return false
	}
	for _, d := range onnxattr.Ints(n, "dilations") {
		if d != 1 {
			return false
		}
	}
	for _, a := range n.Attribute {
		if a.Name == "auto_pad" && string(a.S) != "" && string(a.S) != "NOTSET" {
			return false
		}
	}
	pads := onnxattr.Ints(n, "pads")
	if len(pads) != 0 && len(pads) != 4 {
		return false
	}
	for i, p := range pads {
		if p < 0 || p > ws[2+i%2]-1 {
			return false
		}
	}
	return true
}

// onnxNativeDepthwise: depthwise convolutions native on ONNX Runtime (see
// lowering.nativeDepthwise).
var onnxNativeDepthwise = true

// nativeOK reports whether Conv node n stays native under native1 (and nativeStrided:
// strided too).
func nativeOK(n *protos.NodeProto, strided bool) bool {
	if onnxattr.Int(n, "group", 1) != 1 {
		return false
	}
	if strided && onnxConvGrad {
		dilated := false
		for _, d := range onnxattr.Ints(n, "dilations") {
			dilated = dilated || d != 1
		}
		if !dilated {
			return true
		}
	}
	for _, s := range onnxattr.Ints(n, "strides") {
		if s != 1 {
			return false
		}
	}
	return true
}

// separablePools reduces pooling windows along W, then H.
var separablePools = true

// onnxNative1 is the measured choice for ONNX Runtime (BenchmarkStepTail/onnx with
// FINETUNE_ONNX_NATIVE1=0|1, interleaved with PyTorch in one run): native stride-1
// convolutions, with the kernel gradient as one im2col MatMul (convVJP; GoMLX's own, a
// convolution over the batch, made native slower than im2col), beat im2col by about 8%
// in images per CPU second on fire9 (b32).
var onnxNative1 = true

// onnxNativePools: native MaxPool on ONNX Runtime, its gradient maxPoolGradScatter
// (onnxPoolScatter), instead of the taps' maximum. The measured choice:
// BenchmarkStepWhole32/onnx (SqueezeNet 1.1 whole network, b32, interleaved pairs,
// FINETUNE_ONNX_NATIVEPOOLS=0|1) gave 19.3 vs 23.5 and 21.3 vs 22.2 images/s for taps vs
// native. (With maxPoolGrad, the Where cascade, native had measured slower: 10.8 vs 7.1
// and 8.2 vs 6.6 images per CPU second at b8.)
var onnxNativePools = true

// onnxNativeStrided: strided convolutions of group 1 native on ONNX Runtime (see
// lowering.nativeStrided), the measured choice: SqueezeNet 1.1 whole-network steps
// (BenchmarkStepWhole and BenchmarkStepWhole32/onnx, FINETUNE_ONNX_NATIVESTRIDED=0|1,
// interleaved pairs on a loaded 2-core machine) went from 7.5 and 7.8 to 9.7 and 9.7
// images per CPU second at b8, from 7.8 to 9.1 at b32 (conv1 no longer through taps).
var onnxNativeStrided = true

// loweringFor returns the lowering of a backend (by its compute.Backend.Name).
func loweringFor(b compute.Backend) lowering {
	if b == nil {
		return lowering{convs: true}
	}
	return loweringForName(b.Name())
}

func loweringForName(name string) lowering {
	switch name {
	case "onnxruntime", "onnx":
		return lowering{convs: true, phases: true, pools: true, native1: onnxNative1, nativePools: onnxNativePools, nativeStrided: onnxNativeStrided,
			nativeDepthwise: onnxNativeDepthwise}
	}
	// Pure Go (and XLA, whose native gradients are correct): as wave 1 measured.
	return lowering{convs: true}
}

// window describes a 2-D sliding window over an NCHW tensor.
type window struct {
	kh, kw, sh, sw, dh, dw int64
	pads                   [4]int64 // ONNX order: top, left, bottom, right
	C, H, W, Ho, Wo        int64
}

func windowOf(n *protos.NodeProto, xs, ys []int64, kernel []int64) (window, bool) {
	if len(xs) != 4 || len(ys) != 4 || len(kernel) != 2 {
		return window{}, false
	}
	w := window{kh: kernel[0], kw: kernel[1], sh: 1, sw: 1, dh: 1, dw: 1, C: xs[1], H: xs[2], W: xs[3], Ho: ys[2], Wo: ys[3]}
	if s := onnxattr.Ints(n, "strides"); len(s) == 2 {
		w.sh, w.sw = s[0], s[1]
	} else if len(s) != 0 {
		return window{}, false
	}
	if d := onnxattr.Ints(n, "dilations"); len(d) == 2 {
		w.dh, w.dw = d[0], d[1]
	} else if len(d) != 0 {
		return window{}, false
	}
	if p := onnxattr.Ints(n, "pads"); len(p) == 4 {
		copy(w.pads[:], p)
	} else if len(p) != 0 {
		return window{}, false
	}
	for _, a := range n.Attribute {
		if a.Name == "auto_pad" && string(a.S) != "" && string(a.S) != "NOTSET" {
			return window{}, false
		}
	}
	for _, v := range []int64{w.kh, w.kw, w.sh, w.sw, w.dh, w.dw, w.C, w.H, w.W, w.Ho, w.Wo} {
		if v <= 0 {
			return window{}, false
		}
	}
	for _, p := range w.pads {
		if p < 0 {
			return window{}, false
		}
	}
	return w, true
}

// nodeBuilder appends ONNX nodes with unique names under prefix p.
type nodeBuilder struct {
	p   string
	out []*protos.NodeProto
}

func (b *nodeBuilder) add(op string, in []string, attrs ...*protos.AttributeProto) string {
	name := fmt.Sprintf("%s%d_%s", b.p, len(b.out), op)
	b.out = append(b.out, &protos.NodeProto{Name: name, OpType: op, Input: in, Output: []string{name}, Attribute: attrs})
	return name
}

func (b *nodeBuilder) ints(v ...int64) string {
	name := fmt.Sprintf("%s%d_ints", b.p, len(b.out))
	b.out = append(b.out, intsConst(name, v))
	return name
}

func (b *nodeBuilder) floats(dims []int64, v ...float32) string {
	name := fmt.Sprintf("%s%d_floats", b.p, len(b.out))
	b.out = append(b.out, &protos.NodeProto{Name: name, OpType: "Constant", Output: []string{name},
		Attribute: []*protos.AttributeProto{{Name: "value", Type: protos.AttributeProto_TENSOR,
			T: &protos.TensorProto{Name: name, Dims: dims, DataType: dtFloat, FloatData: v}}}})
	return name
}

func (b *nodeBuilder) slice(x string, starts, ends, axes []int64) string {
	return b.add("Slice", []string{x, b.ints(starts...), b.ints(ends...), b.ints(axes...)})
}

func permAttr(v ...int64) *protos.AttributeProto {
	return &protos.AttributeProto{Name: "perm", Type: protos.AttributeProto_INTS, Ints: v}
}

// phaseTaps returns the kh×kw taps of window w over x (NHWC), each [N, Ho, Wo, C],
// tap-major (i, j). The input is padded (with fill) by the window's pads and enough at
// the end (or cropped) to a multiple of the stride, reshaped once to
// [N, Hp/sh, sh, Wp/sw, sw, C], and each tap is a unit-step Slice of it: its gradient
// needs no interior padding.
func phaseTaps(b *nodeBuilder, x string, w window, fill float32) []string {
	needH := w.sh * ((w.kh-1)*w.dh/w.sh + w.Ho) // rows of the phase grid
	needW := w.sw * ((w.kw-1)*w.dw/w.sw + w.Wo)
	ph, pw := w.H+w.pads[0]+w.pads[2], w.W+w.pads[1]+w.pads[3]
	endH, endW := w.pads[2]+max(0, needH-ph), w.pads[3]+max(0, needW-pw)
	if w.pads[0]+w.pads[1]+endH+endW > 0 {
		in := []string{x, b.ints(0, w.pads[0], w.pads[1], 0, 0, endH, endW, 0)}
		if fill != 0 {
			in = append(in, b.floats(nil, fill))
		}
		x = b.add("Pad", in)
	}
	if ph+endH-w.pads[2] > needH || pw+endW-w.pads[3] > needW {
		x = b.slice(x, []int64{0, 0}, []int64{needH, needW}, []int64{1, 2})
	}
	g := b.add("Reshape", []string{x, b.ints(-1, needH/w.sh, w.sh, needW/w.sw, w.sw, w.C)})
	var taps []string
	for i := int64(0); i < w.kh; i++ {
		for j := int64(0); j < w.kw; j++ {
			oh, ow := i*w.dh, j*w.dw
			t := b.slice(g, []int64{oh / w.sh, oh % w.sh, ow / w.sw, ow % w.sw},
				[]int64{oh/w.sh + w.Ho, oh%w.sh + 1, ow/w.sw + w.Wo, ow%w.sw + 1}, []int64{1, 2, 3, 4})
			taps = append(taps, b.add("Reshape", []string{t, b.ints(-1, w.Ho, w.Wo, w.C)}))
		}
	}
	return taps
}

// lowerConvPhases lowers any 2-D Conv (groups, depthwise, dilation, strides, pads) as
// phase taps + (batched, per group) MatMul.
func lowerConvPhases(n *protos.NodeProto, shape func(string) []int64) []*protos.NodeProto {
	if n.OpType != "Conv" || len(n.Input) < 2 || len(n.Output) != 1 {
		return nil
	}
	ws := shape(n.Input[1])
	if len(ws) != 4 {
		return nil
	}
	w, ok := windowOf(n, shape(n.Input[0]), shape(n.Output[0]), ws[2:])
	if !ok {
		return nil
	}
	G := onnxattr.Int(n, "group", 1)
	O, Cg := ws[0], ws[1]
	if G <= 0 || w.C != G*Cg || O%G != 0 {
		return nil
	}
	Og, T := O/G, w.kh*w.kw
	b := &nodeBuilder{p: n.Output[0] + "/lowered/"}
	x := b.add("Transpose", []string{n.Input[0]}, permAttr(0, 2, 3, 1)) // NHWC
	var taps []string
	if w.kh == 1 && w.kw == 1 && w.sh == 1 && w.sw == 1 && w.pads == [4]int64{} {
		taps = []string{x} // pointwise: the input is its own only tap
	} else {
		taps = phaseTaps(b, x, w, 0)
	}
	cols := taps[0]
	if len(taps) > 1 {
		cols = b.add("Concat", taps, &protos.AttributeProto{Name: "axis", Type: protos.AttributeProto_INT, I: 3})
	}
	var y string
	if G == 1 {
		rows := b.add("Reshape", []string{cols, b.ints(-1, T*Cg)})
		wk := b.add("Transpose", []string{n.Input[1]}, permAttr(2, 3, 1, 0)) // [kh,kw,C,O]
		wk = b.add("Reshape", []string{wk, b.ints(T*Cg, O)})
		y = b.add("MatMul", []string{rows, wk})
	} else {
		// cols index: tap-major, then channel = g*Cg + c.
		rows := b.add("Reshape", []string{cols, b.ints(-1, T, G, Cg)})
		rows = b.add("Transpose", []string{rows}, permAttr(2, 0, 1, 3)) // [G, M, T, Cg]
		rows = b.add("Reshape", []string{rows, b.ints(G, -1, T*Cg)})
		wk := b.add("Reshape", []string{n.Input[1], b.ints(G, Og, Cg, w.kh, w.kw)})
		wk = b.add("Transpose", []string{wk}, permAttr(0, 3, 4, 2, 1)) // [G, kh, kw, Cg, Og]
		wk = b.add("Reshape", []string{wk, b.ints(G, T*Cg, Og)})
		y = b.add("MatMul", []string{rows, wk})                // [G, M, Og]
		y = b.add("Transpose", []string{y}, permAttr(1, 0, 2)) // [M, G, Og]
		y = b.add("Reshape", []string{y, b.ints(-1, O)})
	}
	if len(n.Input) > 2 && n.Input[2] != "" {
		y = b.add("Add", []string{y, n.Input[2]})
	}
	y = b.add("Reshape", []string{y, b.ints(-1, w.Ho, w.Wo, O)})
	b.out = append(b.out, &protos.NodeProto{Name: b.p + "out", OpType: "Transpose", Input: []string{y},
		Output: []string{n.Output[0]}, Attribute: []*protos.AttributeProto{permAttr(0, 3, 1, 2)}})
	return b.out
}

// lowerPool lowers MaxPool (the maximum over the window's taps, padding never picked)
// and AveragePool (their mean, with ONNX's count_include_pad semantics).
func lowerPool(n *protos.NodeProto, shape func(string) []int64) []*protos.NodeProto {
	if (n.OpType != "MaxPool" && n.OpType != "AveragePool") || len(n.Input) != 1 || len(n.Output) != 1 {
		return nil
	}
	if onnxattr.Int(n, "storage_order", 0) != 0 {
		return nil
	}
	isAvg := n.OpType == "AveragePool"
	if isAvg && (onnxattr.Int(n, "ceil_mode", 0) != 0 || len(onnxattr.Ints(n, "dilations")) != 0) {
		return nil
	}
	w, ok := windowOf(n, shape(n.Input[0]), shape(n.Output[0]), onnxattr.Ints(n, "kernel_shape"))
	if !ok {
		return nil
	}
	b := &nodeBuilder{p: n.Output[0] + "/lowered/"}
	x := b.add("Transpose", []string{n.Input[0]}, permAttr(0, 2, 3, 1)) // NHWC
	var fill float32
	if !isAvg {
		fill = -3.4e38 // below any activation: padding never wins
	}
	// Separable: along W (kw taps), then along H (kh taps) — kh+kw taps instead of
	// kh×kw. Left-nested maxima give ties to the earlier tap, row by row, which is
	// PyTorch's first maximum in row-major order.
	reduce := func(x string, w window) string {
		taps := phaseTaps(b, x, w, fill)
		y := taps[0]
		for _, t := range taps[1:] {
			y = b.add(map[bool]string{true: "Add", false: "Max"}[isAvg], []string{y, t})
		}
		return y
	}
	if separablePools {
		wr := w
		wr.kh, wr.sh, wr.dh, wr.Ho = 1, 1, 1, w.H
		wr.pads = [4]int64{0, w.pads[1], 0, w.pads[3]}
		x = reduce(x, wr)
		wc := w
		wc.kw, wc.sw, wc.dw, wc.W = 1, 1, 1, w.Wo
		wc.pads = [4]int64{w.pads[0], 0, w.pads[2], 0}
		x = reduce(x, wc)
	} else {
		x = reduce(x, w)
	}
	y := x
	if isAvg {
		k := float32(w.kh * w.kw)
		padded := w.pads[0]+w.pads[1]+w.pads[2]+w.pads[3] != 0
		if padded && onnxattr.Int(n, "count_include_pad", 0) == 0 {
			// Divide by the number of taps inside the image at each output position.
			cnt := make([]float32, w.Ho*w.Wo)
			for oh := int64(0); oh < w.Ho; oh++ {
				for ow := int64(0); ow < w.Wo; ow++ {
					var c float32
					for i := int64(0); i < w.kh; i++ {
						for j := int64(0); j < w.kw; j++ {
							r, s := oh*w.sh+i-w.pads[0], ow*w.sw+j-w.pads[1]
							if r >= 0 && r < w.H && s >= 0 && s < w.W {
								c++
							}
						}
					}
					cnt[oh*w.Wo+ow] = 1 / max(c, 1)
				}
			}
			y = b.add("Mul", []string{y, b.floats([]int64{1, w.Ho, w.Wo, 1}, cnt...)})
		} else {
			y = b.add("Mul", []string{y, b.floats(nil, 1/k)})
		}
	}
	b.out = append(b.out, &protos.NodeProto{Name: b.p + "out", OpType: "Transpose", Input: []string{y},
		Output: []string{n.Output[0]}, Attribute: []*protos.AttributeProto{permAttr(0, 3, 1, 2)}})
	return b.out
}
