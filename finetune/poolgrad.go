package finetune

import (
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"

	"github.com/multilabel/multilabel/internal/onnxattr"
)

// onnxPoolGrad: on ONNX Runtime, the gradient of a max pooling (ReduceWindow of Max,
// NCHW, no dilation) is maxPoolGrad instead of GoMLX's SelectAndScatter, which
// compute-onnx v0.1.13 builds with ScatterElements without reduction="add" (an input
// picked by two overlapping windows gets one gradient). With it MaxPool stays a native
// ONNX MaxPool on ONNX Runtime (lowering.nativePools).
var onnxPoolGrad = true

// onnxPoolScatter: maxPoolGradScatter instead of maxPoolGrad, the measured choice.
// BenchmarkMaxPoolGrad (SqueezeNet's first pooling, b8): 160 CPU-ms against 338 for
// maxPoolGrad (and ~90 for compute-onnx's own, wrong, SelectAndScatter); with native
// pooling the SqueezeNet whole-network step (BenchmarkStepWhole32/onnx, interleaved)
// went from 19.3 and 21.3 images/s (the taps' maximum) to 23.5 and 22.2.
var onnxPoolScatter = true

// gomlxReduceWindowVJP is GoMLX's own gradient of ReduceWindow.
var gomlxReduceWindowVJP = graph.VJPRegistration[graph.NodeTypeReduceWindow]

func init() {
	graph.VJPRegistration[graph.NodeTypeReduceWindow] = reduceWindowVJP
}

// poolParams are the parameters of a ReduceWindow node.
type poolParams struct {
	input                                      *graph.Node
	reduction                                  compute.ReduceOpType
	window, strides, inDilations, winDilations []int
	paddings                                   [][2]int
}

// poolParamsOf reads the parameters of ReduceWindow node n (unexported in GoMLX; reflect
// reads them). ok is false when they cannot be read.
func poolParamsOf(n *graph.Node) (p poolParams, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if n.Type() != graph.NodeTypeReduceWindow || len(n.Inputs()) != 1 {
		return p, false
	}
	in, ok := nodeParams(n)
	if !ok {
		return p, false
	}
	ints := func(name string) []int { return reflectInts(in, name) }
	p.input = n.Inputs()[0]
	p.reduction = compute.ReduceOpType(in.FieldByName("reductionType").Int())
	p.window, p.strides = ints("windowDimensions"), ints("strides")
	p.inDilations, p.winDilations = ints("inputDilations"), ints("windowDilations")
	p.paddings = reflectPairs(in, "paddings")
	return p, true
}

// reduceWindowVJP is GoMLX's ReduceWindow gradient everywhere except for the max
// poolings maxPoolGrad handles on ONNX Runtime.
func reduceWindowVJP(node *graph.Node, v []*graph.Node, outShape shapes.Shape) []*graph.Node {
	if onnxPoolGrad && len(v) == 1 && node.DType().IsFloat() && onONNX(node) {
		if p, ok := poolParamsOf(node); ok {
			f := maxPoolGrad
			if onnxPoolScatter {
				f = maxPoolGradScatter
			}
			if dx := f(node, v[0], p); dx != nil {
				return []*graph.Node{dx}
			}
		}
	}
	return gomlxReduceWindowVJP(node, v, outShape)
}

// maxPoolWindow checks that node is a max pooling the gradients here handle (x NCHW,
// window [1,1,kh,kw], strides [1,1,sh,sw], no dilation, pads only on H and W, v of the
// output's shape) and returns its window, batch and channels. ok is false otherwise.
func maxPoolWindow(node, v *graph.Node, p poolParams) (pw phaseWindow, N, C int, ok bool) {
	x := p.input
	if p.reduction != compute.ReduceOpMax || x.Rank() != 4 || v.Rank() != 4 || !v.Shape().Equal(node.Shape()) ||
		len(p.window) != 4 || p.window[0] != 1 || p.window[1] != 1 ||
		(len(p.strides) != 0 && (len(p.strides) != 4 || p.strides[0] != 1 || p.strides[1] != 1)) ||
		(len(p.inDilations) != 0 && !allOnes(p.inDilations)) || (len(p.winDilations) != 0 && !allOnes(p.winDilations)) ||
		(len(p.paddings) != 0 && len(p.paddings) != 4) {
		return pw, 0, 0, false
	}
	kh, kw := p.window[2], p.window[3]
	sh, sw := kh, kw // ReduceWindow's default strides are the window
	if len(p.strides) == 4 {
		sh, sw = p.strides[2], p.strides[3]
	}
	var pads [2][2]int
	if len(p.paddings) == 4 {
		if p.paddings[0] != [2]int{} || p.paddings[1] != [2]int{} {
			return pw, 0, 0, false
		}
		pads = [2][2]int{p.paddings[2], p.paddings[3]}
	}
	xd, yd := x.Shape().Dimensions, node.Shape().Dimensions
	N, C, H, W := xd[0], xd[1], xd[2], xd[3]
	Ho, Wo := yd[2], yd[3]
	if kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || pads[0][0] < 0 || pads[0][1] < 0 || pads[1][0] < 0 || pads[1][1] < 0 ||
		yd[0] != N || yd[1] != C || Ho != (H+pads[0][0]+pads[0][1]-kh)/sh+1 || Wo != (W+pads[1][0]+pads[1][1]-kw)/sw+1 {
		return pw, 0, 0, false
	}
	return phaseWindow{kh: kh, kw: kw, sh: sh, sw: sw, pads: pads, H: H, W: W, Ho: Ho, Wo: Wo}, N, C, true
}

// maxPoolGrad returns the gradient of y = MaxPool(x) (node; x NCHW, window [1,1,kh,kw],
// strides [1,1,sh,sw], no dilation) for output gradient v: each window's gradient goes
// to the first maximum of the window in row-major order (PyTorch's rule), and an input
// picked by several windows gets the sum. No interior padding, no scatter: the padded
// input is reshaped once into stride phases [N, C, Hg, sh, Wg, sw]; tap (i, j) of every
// window is a unit-step Slice of it, at phase (i%sh, j%sw) shifted by (i/sh, j/sw); the
// gradients of the taps of one phase are summed after a plain Pad that undoes the
// shift, and the phases are stacked and reshaped back. nil when not of that kind.
func maxPoolGrad(node, v *graph.Node, p poolParams) *graph.Node {
	x := p.input
	pw, _, _, ok := maxPoolWindow(node, v, p)
	if !ok {
		return nil
	}
	// NHWC, so that every Slice and Concat moves contiguous runs of C values.
	nhwc := func(t *graph.Node) *graph.Node { return graph.TransposeAllDims(t, 0, 2, 3, 1) }
	taps := pw.taps(nhwc(graph.StopGradient(x)), graph.Infinity(x.Graph(), x.DType(), -1))
	y := nhwc(graph.StopGradient(node))
	vt := nhwc(v)
	zeros := graph.ZerosLike(vt)
	rest := vt // the gradient not yet given to an earlier maximum of its window
	for t, xt := range taps {
		hit := graph.Equal(xt, y)
		taps[t] = graph.Where(hit, rest, zeros)
		if t != len(taps)-1 {
			rest = graph.Where(hit, zeros, rest)
		}
	}
	return graph.TransposeAllDims(pw.col2im(taps), 0, 3, 1, 2) // NCHW
}

// phaseWindow is a 2-D window (kernel kh×kw, strides, pads as [axis][start, end]) over
// an NHWC input of H×W giving Ho×Wo.
type phaseWindow struct {
	kh, kw, sh, sw, H, W, Ho, Wo int
	pads                         [2][2]int
}

// grid returns the phase grid of the window: Hg×Wg rows and columns per phase.
func (w phaseWindow) grid() (Hg, Wg int) { return w.Ho + (w.kh-1)/w.sh, w.Wo + (w.kw-1)/w.sw }

// taps returns the kh×kw taps of the window over x (NHWC), each [N, Ho, Wo, C],
// row-major: x padded (with fill) by the start pads and to Hg·sh × Wg·sw, reshaped once
// to [N, Hg, sh, Wg, sw, C], each tap a unit-step Slice of it.
func (w phaseWindow) taps(x, fill *graph.Node) []*graph.Node {
	d := x.Shape().Dimensions
	N, C := d[0], d[3]
	Hg, Wg := w.grid()
	endH, endW := Hg*w.sh-w.H-w.pads[0][0], Wg*w.sw-w.W-w.pads[1][0]
	xs := graph.Pad(x, fill, compute.PadAxis{},
		compute.PadAxis{Start: w.pads[0][0], End: max(endH, 0)}, compute.PadAxis{Start: w.pads[1][0], End: max(endW, 0)}, compute.PadAxis{})
	if endH < 0 || endW < 0 {
		xs = graph.Slice(xs, graph.AxisRange(), graph.AxisRange(0, Hg*w.sh), graph.AxisRange(0, Wg*w.sw), graph.AxisRange())
	}
	xg := graph.Reshape(xs, N, Hg, w.sh, Wg, w.sw, C)
	var taps []*graph.Node
	for i := range w.kh {
		for j := range w.kw {
			t := graph.Slice(xg, graph.AxisRange(), graph.AxisRange(i/w.sh, i/w.sh+w.Ho), graph.AxisRange(i%w.sh, i%w.sh+1),
				graph.AxisRange(j/w.sw, j/w.sw+w.Wo), graph.AxisRange(j%w.sw, j%w.sw+1), graph.AxisRange())
			taps = append(taps, graph.Reshape(t, N, w.Ho, w.Wo, C))
		}
	}
	return taps
}

// col2im is the transpose of taps: the gradients g of the kh×kw taps (each
// [N, Ho, Wo, C], row-major) summed into the input [N, H, W, C] they were cut from. Tap
// (i, j) lies in phase (i%sh, j%sw) shifted by (i/sh, j/sw): a plain Pad undoes the
// shift, the taps of a phase are added, the phases stacked and reshaped back, and the
// window's padding cropped — no interior padding, no scatter.
func (w phaseWindow) col2im(g []*graph.Node) *graph.Node {
	d := g[0].Shape().Dimensions
	N, C := d[0], d[3]
	Hg, Wg := w.grid()
	qh, qw := (w.kh-1)/w.sh, (w.kw-1)/w.sw
	zero := graph.ScalarZero(g[0].Graph(), g[0].DType())
	phase := make([]*graph.Node, w.sh*w.sw)
	for t, gt := range g {
		i, j := t/w.kw, t%w.kw
		if qh+qw > 0 {
			gt = graph.Pad(gt, zero, compute.PadAxis{},
				compute.PadAxis{Start: i / w.sh, End: qh - i/w.sh}, compute.PadAxis{Start: j / w.sw, End: qw - j/w.sw}, compute.PadAxis{})
		}
		k := (i%w.sh)*w.sw + j%w.sw
		if phase[k] == nil {
			phase[k] = gt
		} else {
			phase[k] = graph.Add(phase[k], gt)
		}
	}
	var dx *graph.Node
	if w.sh == 1 && w.sw == 1 {
		dx = phase[0]
	} else {
		gz := graph.Zeros(g[0].Graph(), shapes.Make(g[0].DType(), N, Hg, Wg, C))
		rows := make([]*graph.Node, w.sh)
		for r := range w.sh {
			cols := make([]*graph.Node, w.sw)
			for c := range w.sw {
				if cols[c] = phase[r*w.sw+c]; cols[c] == nil {
					cols[c] = gz // a phase no tap reaches (window smaller than stride)
				}
			}
			rows[r] = graph.Stack(cols, 3) // [N, Hg, Wg, sw, C]
		}
		dx = graph.Stack(rows, 2) // [N, Hg, sh, Wg, sw, C]
		dx = graph.Reshape(dx, N, Hg*w.sh, Wg*w.sw, C)
	}
	// Undo the padding: drop the start pads, crop or zero-extend the end.
	endH, endW := Hg*w.sh-w.H-w.pads[0][0], Wg*w.sw-w.W-w.pads[1][0]
	dx = graph.Slice(dx, graph.AxisRange(), graph.AxisRange(w.pads[0][0], min(Hg*w.sh, w.pads[0][0]+w.H)),
		graph.AxisRange(w.pads[1][0], min(Wg*w.sw, w.pads[1][0]+w.W)), graph.AxisRange())
	if endH < 0 || endW < 0 {
		dx = graph.Pad(dx, zero, compute.PadAxis{},
			compute.PadAxis{End: max(-endH, 0)}, compute.PadAxis{End: max(-endW, 0)}, compute.PadAxis{})
	}
	return dx
}

// nativeMaxPool returns MaxPool node n as a native MaxPool whose gradient maxPoolGrad
// computes: ceil_mode (which onnx-gomlx does not import) becomes the end padding it
// implies (padding never wins a maximum). nil when n is not such a MaxPool.
func nativeMaxPool(n *protos.NodeProto, shape func(string) []int64) *protos.NodeProto {
	if n.OpType != "MaxPool" || len(n.Input) != 1 || len(n.Output) != 1 ||
		onnxattr.Int(n, "storage_order", 0) != 0 || len(onnxattr.Ints(n, "dilations")) != 0 {
		return nil
	}
	w, ok := windowOf(n, shape(n.Input[0]), shape(n.Output[0]), onnxattr.Ints(n, "kernel_shape"))
	if !ok || w.dh != 1 || w.dw != 1 {
		return nil
	}
	pads := w.pads
	pads[2] += max(0, (w.Ho-1)*w.sh+w.kh-(w.H+w.pads[0]+w.pads[2]))
	pads[3] += max(0, (w.Wo-1)*w.sw+w.kw-(w.W+w.pads[1]+w.pads[3]))
	// Every window must hold an input (ONNX's ceil mode guarantees it).
	if (w.Ho-1)*w.sh >= w.H+w.pads[0] || (w.Wo-1)*w.sw >= w.W+w.pads[1] {
		return nil
	}
	return &protos.NodeProto{Name: n.Name + "/native", OpType: "MaxPool", Input: n.Input, Output: n.Output,
		Attribute: []*protos.AttributeProto{
			{Name: "kernel_shape", Type: protos.AttributeProto_INTS, Ints: []int64{w.kh, w.kw}},
			{Name: "strides", Type: protos.AttributeProto_INTS, Ints: []int64{w.sh, w.sw}},
			{Name: "pads", Type: protos.AttributeProto_INTS, Ints: pads[:]},
		}}
}

// maxPoolGradScatter is maxPoolGrad by index: every tap of every window comes from one
// native Conv (each channel a single-channel image, kh·kw one-hot kernels at the pool's
// strides), ArgMax over the taps picks each window's first maximum in row-major order,
// that becomes a flat index into x, and the output gradient is summed there by one
// ScatterSum (ONNX ScatterND with reduction "add", which compute-onnx emits for it), so
// an input that is the maximum of several windows gets all their gradients. NCHW
// throughout: no transposes, no per-tap gradient tensors. nil when not of that kind.
func maxPoolGradScatter(node, v *graph.Node, p poolParams) *graph.Node {
	x := p.input
	pw, N, C, ok := maxPoolWindow(node, v, p)
	if !ok {
		return nil
	}
	kh, kw, sh, sw, pads, H, W, Ho, Wo := pw.kh, pw.kw, pw.sh, pw.sw, pw.pads, pw.H, pw.W, pw.Ho, pw.Wo
	g := x.Graph()
	// Every tap of every window at once: a native Conv of each channel (as a batch of
	// N·C single-channel images, padded with the lowest finite value so that 0·pad stays 0)
	// with kh·kw one-hot kernels gives [N·C, kh·kw, Ho, Wo]; ArgMax over the taps is the
	// first maximum in row-major order.
	taps := oneHotTaps(graph.StopGradient(x), kh, kw, sh, sw, pads, -math.MaxFloat32, Ho, Wo) // [N·C, kk, Ho, Wo]
	arg := graph.ArgMax(taps, 1, dtypes.Int64)                                                // [N·C, Ho, Wo]
	// Tap t = i·kw + j lies (i, j) from the window's corner: t + i·(W - kw) in x, flat.
	off := graph.Add(arg, graph.MulScalar(graph.DivScalar(arg, kw), W-kw))
	// Flat index in x of window (n·c, ho, wo)'s top-left corner (pads included).
	s64 := shapes.Make(dtypes.Int64, N*C, Ho, Wo)
	base := graph.AddScalar(graph.Add(graph.MulScalar(graph.Iota(g, s64, 0), H*W),
		graph.Add(graph.MulScalar(graph.Iota(g, s64, 1), sh*W), graph.MulScalar(graph.Iota(g, s64, 2), sw))), -(pads[0][0]*W + pads[1][0]))
	idx := graph.Reshape(graph.Add(base, off), N*C*Ho*Wo, 1)
	dx := graph.ScatterSum(graph.Zeros(g, shapes.Make(v.DType(), N*C*H*W)), idx, graph.Reshape(v, N*C*Ho*Wo), false, false)
	return graph.Reshape(dx, N, C, H, W)
}

// oneHotTaps lays out the kh×kw taps of every window of x [N, C, H, W] (strides sh, sw;
// pads as [axis][start, end], filled with fill) as [N·C, kh·kw, Ho, Wo], row-major taps:
// one native Conv of the N·C channels as single-channel images with kh·kw one-hot
// kernels. Exact: each output is one input times 1 plus zeros (fill must be finite, so
// that fill·0 is 0). x must not need a gradient.
func oneHotTaps(x *graph.Node, kh, kw, sh, sw int, pads [2][2]int, fill float64, Ho, Wo int) *graph.Node {
	g := x.Graph()
	d := x.Shape().Dimensions
	N, C, H, W := d[0], d[1], d[2], d[3]
	kk := kh * kw
	xs := graph.Reshape(x, N*C, 1, H, W)
	Hp, Wp := (Ho-1)*sh+kh, (Wo-1)*sw+kw
	xs = graph.Pad(xs, graph.Scalar(g, x.DType(), fill), compute.PadAxis{}, compute.PadAxis{},
		compute.PadAxis{Start: pads[0][0], End: max(Hp-H-pads[0][0], 0)}, compute.PadAxis{Start: pads[1][0], End: max(Wp-W-pads[1][0], 0)})
	if Hp < H+pads[0][0] || Wp < W+pads[1][0] {
		xs = graph.Slice(xs, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(0, Hp), graph.AxisRange(0, Wp))
	}
	onehot := make([]float32, kk*kk)
	for t := range kk {
		onehot[t*kk+t] = 1
	}
	kern := graph.ConvertDType(graph.Reshape(graph.Const(g, onehot), kk, 1, kh, kw), x.DType())
	return graph.ConvGeneral(xs, kern, nchwConv, []int{sh, sw}, nil, nil, nil, 1, 1)
}
