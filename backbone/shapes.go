package backbone

import (
	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/multilabel/multilabel/internal/onnxattr"
)

// inferShapes computes the shape of every tensor it can from op semantics, for a batch of
// 1 and the given input shape. Tensors whose shape cannot be derived are absent from the
// result (shape inference is for choosing and describing the feature cut; ONNX Runtime
// and onnx-gomlx do their own).
func inferShapes(g *protos.GraphProto, input string, inShape []int64) map[string][]int64 {
	shapes := map[string][]int64{input: inShape}
	consts := map[string][]int64{}
	for _, t := range g.Initializer {
		shapes[t.Name] = append([]int64{}, t.Dims...)
		if t.DataType == dtInt64 || t.DataType == dtInt32 {
			if v, err := int64Values(t); err == nil {
				consts[t.Name] = v
			}
		}
	}
	for _, n := range g.Node {
		if len(n.Output) == 0 {
			continue
		}
		in := func(i int) []int64 {
			if i >= len(n.Input) || n.Input[i] == "" {
				return nil
			}
			return shapes[n.Input[i]]
		}
		var out []int64
		switch n.OpType {
		case "Constant":
			if t := onnxattr.Tensor(n, "value"); t != nil {
				out = append([]int64{}, t.Dims...)
				if v, err := int64Values(t); err == nil {
					consts[n.Output[0]] = v
				}
			}
		case "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Elu",
			"Selu", "PRelu", "BatchNormalization", "Dropout", "Identity", "Softmax", "LogSoftmax",
			"LRN", "InstanceNormalization", "Erf", "Exp", "Sqrt", "Neg", "Abs", "Cast", "Gelu",
			"Mish", "Softplus", "LayerNormalization", "Reciprocal", "Log", "Floor", "Ceil", "Round":
			out = in(0)
		case "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean":
			out = in(0)
			for i := 1; i < len(n.Input) && out != nil; i++ {
				out = broadcast(out, in(i))
			}
		case "Conv":
			x, w := in(0), in(1)
			if len(x) >= 3 && len(w) == len(x) {
				out = poolShape(n, x, w[2:], w[0])
			}
		case "MaxPool", "AveragePool", "LpPool":
			if x := in(0); len(x) >= 3 {
				out = poolShape(n, x, onnxattr.Ints(n, "kernel_shape"), x[1])
			}
		case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool":
			if x := in(0); len(x) >= 3 {
				out = []int64{x[0], x[1]}
				for range x[2:] {
					out = append(out, 1)
				}
			}
		case "Concat":
			axis := onnxattr.Int(n, "axis", 1)
			first := in(0)
			if first != nil {
				if axis < 0 {
					axis += int64(len(first))
				}
				out = append([]int64{}, first...)
				for i := 1; i < len(n.Input); i++ {
					s := in(i)
					if s == nil || len(s) != len(first) || axis < 0 || int(axis) >= len(s) {
						out = nil
						break
					}
					out[axis] += s[axis]
				}
			}
		case "Flatten":
			if x := in(0); x != nil {
				axis := onnxattr.Int(n, "axis", 1)
				if axis < 0 {
					axis += int64(len(x))
				}
				if axis >= 0 && int(axis) <= len(x) {
					out = []int64{prod(x[:axis]), prod(x[axis:])}
				}
			}
		case "Gemm":
			a, b := in(0), in(1)
			if len(a) == 2 && len(b) == 2 {
				m, k := a[0], b[1]
				if onnxattr.Int(n, "transA", 0) == 1 {
					m = a[1]
				}
				if onnxattr.Int(n, "transB", 0) == 1 {
					k = b[0]
				}
				out = []int64{m, k}
			}
		case "MatMul":
			a, b := in(0), in(1)
			if len(a) >= 2 && len(b) == 2 {
				out = append(append([]int64{}, a[:len(a)-1]...), b[1])
			}
		case "Reshape":
			x := in(0)
			if len(n.Input) >= 2 {
				if target, ok := consts[n.Input[1]]; ok && x != nil {
					out = reshape(x, target)
				}
			} else if x != nil {
				out = reshape(x, onnxattr.Ints(n, "shape"))
			}
		case "Squeeze":
			axes := onnxattr.Ints(n, "axes")
			if len(n.Input) > 1 {
				axes = consts[n.Input[1]]
			}
			if x := in(0); x != nil {
				out = squeeze(x, axes)
			}
		case "Unsqueeze":
			axes := onnxattr.Ints(n, "axes")
			if len(n.Input) > 1 {
				axes = consts[n.Input[1]]
			}
			if x := in(0); x != nil && axes != nil {
				out = unsqueeze(x, axes)
			}
		case "ReduceMean", "ReduceMax", "ReduceSum", "ReduceMin":
			axes := onnxattr.Ints(n, "axes")
			if len(n.Input) > 1 {
				axes = consts[n.Input[1]]
			}
			if x := in(0); x != nil && axes != nil {
				keep := onnxattr.Int(n, "keepdims", 1) == 1
				out = reduce(x, axes, keep)
			}
		case "Transpose":
			if x := in(0); x != nil {
				perm := onnxattr.Ints(n, "perm")
				if perm == nil {
					for i := len(x) - 1; i >= 0; i-- {
						perm = append(perm, int64(i))
					}
				}
				if len(perm) == len(x) {
					out = make([]int64, len(x))
					for i, p := range perm {
						if p < 0 || int(p) >= len(x) {
							out = nil
							break
						}
						out[i] = x[p]
					}
				}
			}
		}
		if out != nil {
			shapes[n.Output[0]] = out
		}
	}
	return shapes
}

func prod(s []int64) int64 {
	p := int64(1)
	for _, d := range s {
		p *= d
	}
	return p
}

func broadcast(a, b []int64) []int64 {
	if b == nil {
		return nil
	}
	if len(b) > len(a) {
		a, b = b, a
	}
	out := append([]int64{}, a...)
	off := len(a) - len(b)
	for i, d := range b {
		switch {
		case out[off+i] == 1:
			out[off+i] = d
		case d == 1 || d == out[off+i]:
		default:
			return nil
		}
	}
	return out
}

// poolShape computes the output of Conv/Pool with kernel k on x [N,C,spatial...].
func poolShape(n *protos.NodeProto, x, k []int64, channels int64) []int64 {
	sp := len(x) - 2
	if len(k) != sp {
		return nil
	}
	strides := onnxattr.Ints(n, "strides")
	dil := onnxattr.Ints(n, "dilations")
	pads := onnxattr.Ints(n, "pads")
	autoPad := onnxattr.String(n, "auto_pad")
	ceil := onnxattr.Int(n, "ceil_mode", 0) == 1
	out := []int64{x[0], channels}
	for i := 0; i < sp; i++ {
		s, d := int64(1), int64(1)
		if i < len(strides) {
			s = strides[i]
		}
		if i < len(dil) {
			d = dil[i]
		}
		if s <= 0 || d <= 0 {
			return nil
		}
		in := x[2+i]
		ek := d*(k[i]-1) + 1
		var o int64
		switch autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			o = (in + s - 1) / s
		case "VALID":
			o = (in-ek)/s + 1
		default:
			p := int64(0)
			if len(pads) == 2*sp {
				p = pads[i] + pads[i+sp]
			}
			num := in + p - ek
			if ceil {
				o = (num+s-1)/s + 1
			} else {
				o = num/s + 1
			}
		}
		if o <= 0 {
			return nil
		}
		out = append(out, o)
	}
	return out
}

func reshape(x, target []int64) []int64 {
	if target == nil {
		return nil
	}
	out := make([]int64, len(target))
	known, neg := int64(1), -1
	for i, t := range target {
		switch {
		case t == 0:
			if i >= len(x) {
				return nil
			}
			out[i] = x[i]
		case t == -1:
			if neg >= 0 {
				return nil
			}
			neg = i
			continue
		case t < 0:
			return nil
		default:
			out[i] = t
		}
		known *= out[i]
	}
	if neg >= 0 {
		if known == 0 || prod(x)%known != 0 {
			return nil
		}
		out[neg] = prod(x) / known
	}
	if prod(out) != prod(x) {
		return nil
	}
	return out
}

func normAxes(axes []int64, rank int) map[int]bool {
	m := map[int]bool{}
	for _, a := range axes {
		if a < 0 {
			a += int64(rank)
		}
		m[int(a)] = true
	}
	return m
}

func squeeze(x, axes []int64) []int64 {
	m := normAxes(axes, len(x))
	var out []int64
	for i, d := range x {
		if (len(axes) == 0 && d == 1) || m[i] {
			continue
		}
		out = append(out, d)
	}
	if out == nil {
		out = []int64{}
	}
	return out
}

func unsqueeze(x, axes []int64) []int64 {
	rank := len(x) + len(axes)
	m := normAxes(axes, rank)
	out := make([]int64, 0, rank)
	j := 0
	for i := 0; i < rank; i++ {
		if m[i] {
			out = append(out, 1)
		} else if j < len(x) {
			out = append(out, x[j])
			j++
		}
	}
	return out
}

func reduce(x, axes []int64, keep bool) []int64 {
	m := normAxes(axes, len(x))
	out := []int64{}
	for i, d := range x {
		if m[i] {
			if keep {
				out = append(out, 1)
			}
			continue
		}
		out = append(out, d)
	}
	return out
}
