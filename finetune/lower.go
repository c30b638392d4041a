package finetune

import (
	"errors"
	"fmt"

	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/multilabel/multilabel/internal/onnxattr"
	"google.golang.org/protobuf/proto"
)

// lowerConvs rewrites a tail graph for training: Identity and Dropout become a
// multiplication by one (GoMLX differentiates it), and, when shape is not nil,
// GlobalAveragePool becomes ReduceMean and the 2-D Conv nodes of a tail graph (group 1, no dilation) as
// im2col + MatMul: NCHW -> NHWC, zero padding, one strided Slice per kernel tap,
// Concat, one MatMul with the kernel reshaped to [kh*kw*C, O], bias, back to NCHW. The
// result computes the same function with other ops; its point is speed of the pure-Go
// backend, whose matrix product (and its gradient) is several times faster than its
// convolution gradient. The weights keep their names and ONNX layout, so training the
// lowered graph trains the original one. shape gives the batch-1 shape of a tensor
// (nil when unknown); convolutions whose shapes are unknown stay as they are.
//
// lw adds what a backend needs beyond that (see lowering): on ONNX Runtime every
// convolution and pooling is lowered to ops whose gradients compute-onnx builds
// correctly, and one that cannot be lowered is an error naming it (never a wrong
// gradient).
func lowerConvs(tail []byte, shape func(string) []int64, lw lowering) ([]byte, int, error) {
	m := &protos.ModelProto{}
	if err := proto.Unmarshal(tail, m); err != nil {
		return nil, 0, err
	}
	var opset int64
	for _, o := range m.OpsetImport {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			opset = o.Version
		}
	}
	g := m.Graph
	if opset < 11 && shape != nil && stableOps(g) {
		// Every op of the tail means the same at opset 13: raise it so that Pad and
		// Slice can be used in their input forms.
		for _, o := range m.OpsetImport {
			if o.Domain == "" || o.Domain == "ai.onnx" {
				o.Version = 13
			}
		}
		opset = 13
	}
	var nodes []*protos.NodeProto
	lowered := 0
	for _, n := range g.Node {
		if (n.OpType == "Identity" || n.OpType == "Dropout") && len(n.Input) >= 1 {
			// GoMLX has no gradient for Identity (onnx-gomlx's Identity and inference
			// Dropout): multiply by one instead.
			one := n.Output[0] + "/one"
			nodes = append(nodes, &protos.NodeProto{Name: one, OpType: "Constant", Output: []string{one},
				Attribute: []*protos.AttributeProto{{Name: "value", Type: protos.AttributeProto_TENSOR,
					T: &protos.TensorProto{Name: one, DataType: dtFloat, FloatData: []float32{1}}}}})
			nodes = append(nodes, &protos.NodeProto{Name: n.Name + "/as_mul", OpType: "Mul", Input: []string{n.Input[0], one}, Output: n.Output[:1]})
			continue
		}
		if shape == nil {
			if lw.phases && n.OpType == "Conv" || lw.pools && (n.OpType == "MaxPool" || n.OpType == "AveragePool") {
				return nil, 0, fmt.Errorf("%w: %s node %q: shapes unknown, cannot lower it for this backend", ErrNoGradient, n.OpType, n.Name)
			}
			nodes = append(nodes, n)
			continue
		}
		if n.OpType == "GlobalAveragePool" && len(n.Input) == 1 && len(shape(n.Input[0])) == 4 {
			// The pure-Go backend computes it (and its gradient) as a slow reduce-window.
			r := &protos.NodeProto{Name: n.Name + "/lowered", OpType: "ReduceMean", Input: n.Input, Output: n.Output}
			if opset >= 18 {
				r.Input = []string{n.Input[0], n.Output[0] + "/lowered/axes"}
				nodes = append(nodes, intsConst(r.Input[1], []int64{2, 3}))
			} else {
				r.Attribute = []*protos.AttributeProto{{Name: "axes", Type: protos.AttributeProto_INTS, Ints: []int64{2, 3}},
					{Name: "keepdims", Type: protos.AttributeProto_INT, I: 1}}
			}
			nodes = append(nodes, r)
			lowered++
			continue
		}
		var rep []*protos.NodeProto
		switch {
		case lw.phases && n.OpType == "Conv" && lw.native1 && nativeOK(n, lw.nativeStrided):
			nodes = append(nodes, n)
			continue
		case lw.phases && n.OpType == "Conv" && lw.nativeDepthwise && onnxConvGrad && depthwiseOK(n, shape):
			nodes = append(nodes, n)
			continue
		case lw.pools && lw.nativePools && onnxPoolGrad && n.OpType == "MaxPool" && nativeMaxPool(n, shape) != nil:
			nodes = append(nodes, nativeMaxPool(n, shape))
			lowered++
			continue
		case lw.phases && n.OpType == "Conv":
			if opset >= 11 {
				rep = lowerConvPhases(n, shape)
			}
		case lw.pools && (n.OpType == "MaxPool" || n.OpType == "AveragePool") ||
			n.OpType == "AveragePool" && onnxattr.Int(n, "count_include_pad", 0) != 0:
			// onnx-gomlx has no count_include_pad: lowered on every backend.
			if opset >= 11 {
				rep = lowerPool(n, shape)
			}
		case lw.convs:
			rep = lowerConv(n, shape, opset)
		}
		if rep == nil && (lw.phases && n.OpType == "Conv" || lw.pools && (n.OpType == "MaxPool" || n.OpType == "AveragePool")) {
			return nil, 0, fmt.Errorf("%w: %s node %q (input %v, output %v, opset %d) cannot be lowered to ops whose gradient this backend computes correctly; use --backend go",
				ErrNoGradient, n.OpType, n.Name, shape(n.Input[0]), shape(n.Output[0]), opset)
		}
		if rep == nil {
			nodes = append(nodes, n)
			continue
		}
		nodes = append(nodes, rep...)
		lowered++
	}
	g.Node = nodes
	out, err := proto.Marshal(m)
	return out, lowered, err
}

// stableOps reports whether every op of g has the same meaning from its opset up to 13
// (for the attributes it uses).
func stableOps(g *protos.GraphProto) bool {
	ok := map[string]bool{"Conv": true, "Relu": true, "Concat": true, "GlobalAveragePool": true, "Flatten": true,
		"MaxPool": true, "AveragePool": true, "Add": true, "Mul": true, "Sigmoid": true, "Identity": true,
		"Transpose": true, "MatMul": true, "ReduceMean": true, "Gemm": true, "Constant": true, "Tanh": true, "Sub": true, "Div": true}
	for _, n := range g.Node {
		if !ok[n.OpType] {
			return false
		}
	}
	return true
}

// ErrNoGradient reports an op the selected backend cannot differentiate correctly and
// that could not be lowered to ops it can.
var ErrNoGradient = errors.New("finetune: no correct gradient on this backend")

func intsConst(name string, v []int64) *protos.NodeProto {
	return &protos.NodeProto{Name: name, OpType: "Constant", Output: []string{name},
		Attribute: []*protos.AttributeProto{{Name: "value", Type: protos.AttributeProto_TENSOR,
			T: &protos.TensorProto{Name: name, Dims: []int64{int64(len(v))}, DataType: int32(protos.TensorProto_INT64), Int64Data: v}}}}
}

func lowerConv(n *protos.NodeProto, shape func(string) []int64, opset int64) []*protos.NodeProto {
	if n.OpType != "Conv" || len(n.Input) < 2 || len(n.Output) != 1 || onnxattr.Int(n, "group", 1) != 1 {
		return nil
	}
	for _, d := range onnxattr.Ints(n, "dilations") {
		if d != 1 {
			return nil
		}
	}
	if ap := ""; true {
		for _, a := range n.Attribute {
			if a.Name == "auto_pad" {
				ap = string(a.S)
			}
		}
		if ap != "" && ap != "NOTSET" {
			return nil
		}
	}
	xs, ws, ys := shape(n.Input[0]), shape(n.Input[1]), shape(n.Output[0])
	if len(xs) != 4 || len(ws) != 4 || len(ys) != 4 {
		return nil
	}
	C, O, kh, kw := xs[1], ws[0], ws[2], ws[3]
	Ho, Wo := ys[2], ys[3]
	strides := onnxattr.Ints(n, "strides")
	if len(strides) == 0 {
		strides = []int64{1, 1}
	}
	pads := onnxattr.Ints(n, "pads")
	if len(pads) == 0 {
		pads = []int64{0, 0, 0, 0}
	}
	if len(strides) != 2 || len(pads) != 4 || ws[1] != C {
		return nil
	}
	padded := pads[0]+pads[1]+pads[2]+pads[3] != 0
	pointwise := kh == 1 && kw == 1 && strides[0] == 1 && strides[1] == 1 && !padded
	if !pointwise && opset < 11 {
		return nil // Pad and strided Slice take their parameters as inputs from opset 11 on
	}
	p := n.Output[0] + "/lowered/"
	var out []*protos.NodeProto
	add := func(op string, in []string, attrs ...*protos.AttributeProto) string {
		name := fmt.Sprintf("%s%d_%s", p, len(out), op)
		out = append(out, &protos.NodeProto{Name: name, OpType: op, Input: in, Output: []string{name}, Attribute: attrs})
		return name
	}
	konst := func(name string, v []int64) string {
		out = append(out, intsConst(p+name, v))
		return p + name
	}
	perm := func(v ...int64) *protos.AttributeProto {
		return &protos.AttributeProto{Name: "perm", Type: protos.AttributeProto_INTS, Ints: v}
	}
	x := add("Transpose", []string{n.Input[0]}, perm(0, 2, 3, 1)) // NHWC
	var cols string
	if pointwise {
		cols = x
	} else {
		if padded {
			// ONNX pads order: begins of all axes then ends; NHWC axes 1, 2 are spatial.
			x = add("Pad", []string{x, konst("pads", []int64{0, pads[0], pads[1], 0, 0, pads[2], pads[3], 0})})
		}
		var taps []string
		for i := int64(0); i < kh; i++ {
			for j := int64(0); j < kw; j++ {
				st := fmt.Sprintf("s%d_%d", i, j)
				taps = append(taps, add("Slice", []string{x,
					konst(st+"_starts", []int64{i, j}),
					konst(st+"_ends", []int64{i + strides[0]*(Ho-1) + 1, j + strides[1]*(Wo-1) + 1}),
					konst(st+"_axes", []int64{1, 2}),
					konst(st+"_steps", []int64{strides[0], strides[1]})}))
			}
		}
		if len(taps) == 1 {
			cols = taps[0]
		} else {
			cols = add("Concat", taps, &protos.AttributeProto{Name: "axis", Type: protos.AttributeProto_INT, I: 3})
		}
	}
	k := kh * kw * C
	rows := add("Reshape", []string{cols, konst("rows", []int64{-1, k})})
	wk := add("Transpose", []string{n.Input[1]}, perm(2, 3, 1, 0)) // [kh,kw,C,O]
	wk = add("Reshape", []string{wk, konst("wshape", []int64{k, O})})
	y := add("MatMul", []string{rows, wk})
	if len(n.Input) > 2 && n.Input[2] != "" {
		y = add("Add", []string{y, n.Input[2]})
	}
	y = add("Reshape", []string{y, konst("yshape", []int64{-1, Ho, Wo, O})})
	out = append(out, &protos.NodeProto{Name: p + "out", OpType: "Transpose", Input: []string{y},
		Output: []string{n.Output[0]}, Attribute: []*protos.AttributeProto{perm(0, 3, 1, 2)}})
	return out
}

// bnStat is a batch-norm running statistic updated from batch statistics (TrainBN).
type bnStat struct {
	batch    string  // tail tensor holding the batch's statistic, [C]
	momentum float64 // ONNX: running = running × momentum + batch × (1 − momentum)
	spatial  int     // values per channel and image (H×W), for the unbiased variance
	isVar    bool
}

// trainBatchNorms rewrites the tail's BatchNormalization nodes to normalise with the
// batch's statistics (the full gradient flows through them), exposing each batch mean
// and (biased) variance as a tensor; the returned map goes from the running
// statistic's name (a state weight) to the batch statistic that updates it, and the
// tensors of each batch norm that its closed-form gradient needs (bngrad.go).
func trainBatchNorms(tail []byte, shape func(string) []int64) ([]byte, map[string]bnStat, []bnTensors, error) {
	m := &protos.ModelProto{}
	if err := proto.Unmarshal(tail, m); err != nil {
		return nil, nil, nil, err
	}
	var opset int64
	for _, o := range m.OpsetImport {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			opset = o.Version
		}
	}
	stats := map[string]bnStat{}
	var bns []bnTensors
	var nodes []*protos.NodeProto
	for _, n := range m.Graph.Node {
		if n.OpType != "BatchNormalization" || len(n.Input) != 5 {
			nodes = append(nodes, n)
			continue
		}
		rank, spatial := 4, 1
		if shape != nil {
			if s := shape(n.Input[0]); len(s) >= 2 {
				rank = len(s)
				for _, d := range s[2:] {
					spatial *= int(d)
				}
			}
		}
		axes := []int64{0}
		for a := 2; a < rank; a++ {
			axes = append(axes, int64(a))
		}
		eps := float32(1e-5)
		momentum := 0.9
		for _, a := range n.Attribute {
			switch a.Name {
			case "epsilon":
				eps = a.F
			case "momentum":
				momentum = float64(a.F)
			}
		}
		p := n.Output[0] + "/bntrain/"
		add := func(op string, name string, in []string, attrs ...*protos.AttributeProto) string {
			nodes = append(nodes, &protos.NodeProto{Name: p + name, OpType: op, Input: in, Output: []string{p + name}, Attribute: attrs})
			return p + name
		}
		mean := func(x, name string) string {
			if opset >= 18 {
				nodes = append(nodes, intsConst(p+name+"_axes", axes))
				return add("ReduceMean", name, []string{x, p + name + "_axes"})
			}
			return add("ReduceMean", name, []string{x}, &protos.AttributeProto{Name: "axes", Type: protos.AttributeProto_INTS, Ints: axes},
				&protos.AttributeProto{Name: "keepdims", Type: protos.AttributeProto_INT, I: 1})
		}
		nodes = append(nodes, bnConsts(p, rank, eps)...)
		nodes = append(nodes, intsConst(p+"cshape", []int64{-1}))
		mu := mean(n.Input[0], "mean")
		d := add("Sub", "centered", []string{n.Input[0], mu})
		v := mean(add("Mul", "sq", []string{d, d}), "var")
		// y = d × (scale / √(var + ε)) + bias: the per-channel factor is formed first, so
		// one full-size product (and d, kept for its gradient) instead of a division
		// and a multiplication, each keeping a full-size input for the backward pass.
		ve := add("Add", "var_eps", []string{v, p + "eps"})
		std := add("Sqrt", "std", []string{ve})
		sc := add("Reshape", "scale", []string{n.Input[1], p + "bshape"})
		bi := add("Reshape", "bias", []string{n.Input[2], p + "bshape"})
		factor := add("Div", "factor", []string{sc, std})
		scaled := add("Mul", "scaled", []string{d, factor})
		nodes = append(nodes, &protos.NodeProto{Name: p + "out", OpType: "Add", Input: []string{scaled, bi}, Output: n.Output[:1]})
		bns = append(bns, bnTensors{centered: d, sq: p + "sq", scaled: scaled, varEps: ve})
		stats[n.Input[3]] = bnStat{batch: add("Reshape", "batch_mean", []string{mu, p + "cshape"}), momentum: momentum, spatial: spatial}
		stats[n.Input[4]] = bnStat{batch: add("Reshape", "batch_var", []string{v, p + "cshape"}), momentum: momentum, spatial: spatial, isVar: true}
	}
	m.Graph.Node = nodes
	out, err := proto.Marshal(m)
	return out, stats, bns, err
}

// bnConsts are the constants both batch-norm rewrites use, named under prefix p: the
// per-channel shape [1, -1, 1, …] of rank (p+"bshape") and ε (p+"eps").
func bnConsts(p string, rank int, eps float32) []*protos.NodeProto {
	bshape := make([]int64, rank)
	for i := range bshape {
		bshape[i] = 1
	}
	bshape[1] = -1
	return []*protos.NodeProto{intsConst(p+"bshape", bshape), {Name: p + "eps", OpType: "Constant", Output: []string{p + "eps"},
		Attribute: []*protos.AttributeProto{{Name: "value", Type: protos.AttributeProto_TENSOR,
			T: &protos.TensorProto{Name: p + "eps", DataType: dtFloat, FloatData: []float32{eps}}}}}}
}

// foldFrozenBN: batch norms with frozen statistics (evaluation, and training without
// TrainBN, the default) are folded into one per-channel scale and shift
// (foldBatchNorms). Measured on ONNX Runtime (MobileNetV2 224², b32, frozen batch norms,
// step profile kernel time, interleaved): 5.54, 5.33, 5.52, 5.44 s unfolded against
// 4.76, 5.90, 4.84, 4.98 s folded; ResNet-18 within noise (4.98, 5.15 against 4.93,
// 5.46 s).
var foldFrozenBN = true

// foldBatchNorms rewrites the tail's BatchNormalization nodes (running statistics) as
// y = x·a + c with a = scale/√(var+ε) and c = bias − mean·a computed per channel in the
// graph from the same named weights, so training the folded graph trains them: two
// full-size passes forward and two backward instead of onnx-gomlx's (x − mean)/√(var+ε)
// · scale + bias, four forward and three backward. A node whose input rank is unknown,
// or in training mode, is left as it is. Returns the number folded.
func foldBatchNorms(tail []byte, shape func(string) []int64) ([]byte, int, error) {
	if !foldFrozenBN || shape == nil {
		return tail, 0, nil
	}
	m := &protos.ModelProto{}
	if err := proto.Unmarshal(tail, m); err != nil {
		return nil, 0, err
	}
	var nodes []*protos.NodeProto
	folded := 0
	for _, n := range m.Graph.Node {
		if n.OpType != "BatchNormalization" || len(n.Input) != 5 || len(n.Output) != 1 || onnxattr.Int(n, "training_mode", 0) != 0 {
			nodes = append(nodes, n)
			continue
		}
		s := shape(n.Input[0])
		if len(s) < 2 {
			nodes = append(nodes, n)
			continue
		}
		eps := float32(1e-5)
		for _, a := range n.Attribute {
			if a.Name == "epsilon" {
				eps = a.F
			}
		}
		p := n.Output[0] + "/bnfold/"
		add := func(op, name string, in ...string) string {
			nodes = append(nodes, &protos.NodeProto{Name: p + name, OpType: op, Input: in, Output: []string{p + name}})
			return p + name
		}
		nodes = append(nodes, bnConsts(p, len(s), eps)...)
		a := add("Div", "a", n.Input[1], add("Sqrt", "std", add("Add", "var_eps", n.Input[4], p+"eps")))
		c := add("Sub", "c", n.Input[2], add("Mul", "mean_a", n.Input[3], a))
		scaled := add("Mul", "scaled", n.Input[0], add("Reshape", "a4", a, p+"bshape"))
		nodes = append(nodes, &protos.NodeProto{Name: p + "out", OpType: "Add", Input: []string{scaled, add("Reshape", "c4", c, p+"bshape")}, Output: n.Output[:1]})
		folded++
	}
	m.Graph.Node = nodes
	out, err := proto.Marshal(m)
	return out, folded, err
}
