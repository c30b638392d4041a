// Package cnn is the demo's small residual CNN, written directly on GoMLX graph ops and
// run on the pure-Go backend: a stem convolution, three residual stages (the second and
// third downsample by a strided convolution), global average pooling and a linear
// classifier. It has no BatchNorm, so training and inference see the same function.
//
// The network trains on the synth source task (softmax) as a stand-in for ImageNet
// pretraining, exports its weights as an ONNX backbone (ExportONNX, opset 13: Conv, Relu,
// Add, GlobalAveragePool, Flatten, Gemm) and reads them back (ImportONNX); it also
// trains multi-label heads, from scratch or by fine-tuning its last stage.
package cnn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	timage "github.com/gomlx/gomlx/core/tensors/images"
)

// Arch is the network's shape.
type Arch struct {
	// Size is the input side in pixels (the input is [N,3,Size,Size]).
	Size int `json:"size"`
	// Widths are the channels of the three stages.
	Widths [3]int `json:"widths"`
	// Classes is the number of outputs of the classifier (source classes).
	Classes int `json:"classes"`
}

// FeatureDim is the width of the pooled features.
func (a Arch) FeatureDim() int { return a.Widths[2] }

// Param is one weight tensor; convolution kernels are [out, in, 3, 3] and the
// classifier weight is [classes, features], as in ONNX.
type Param struct {
	Name string
	Dims []int
	Data []float32
}

// Net is an Arch with its weights in a fixed order (see paramSpecs).
type Net struct {
	Arch   Arch
	Params []Param
}

// Stages of the forward pass; a network can be run or trained from any stage.
const (
	StageStem = iota
	StageBlock1
	StageDown1
	StageBlock2
	StageDown2
	StageBlock3
	NumStages
)

func (a Arch) paramSpecs() []Param {
	w0, w1, w2 := a.Widths[0], a.Widths[1], a.Widths[2]
	conv := func(name string, out, in int) []Param {
		return []Param{{Name: name + ".w", Dims: []int{out, in, 3, 3}}, {Name: name + ".b", Dims: []int{out}}}
	}
	var p []Param
	p = append(p, conv("stem", w0, 3)...)
	p = append(p, conv("b1.c1", w0, w0)...)
	p = append(p, conv("b1.c2", w0, w0)...)
	p = append(p, conv("d1", w1, w0)...)
	p = append(p, conv("b2.c1", w1, w1)...)
	p = append(p, conv("b2.c2", w1, w1)...)
	p = append(p, conv("d2", w2, w1)...)
	p = append(p, conv("b3.c1", w2, w2)...)
	p = append(p, conv("b3.c2", w2, w2)...)
	p = append(p, Param{Name: "fc.w", Dims: []int{a.Classes, w2}}, Param{Name: "fc.b", Dims: []int{a.Classes}})
	return p
}

// stageParams are the index ranges [lo,hi) into Params of each stage, plus the classifier.
var stageParams = [NumStages + 1][2]int{{0, 2}, {2, 6}, {6, 8}, {8, 12}, {12, 14}, {14, 18}, {18, 20}}

// Validate checks the architecture.
func (a Arch) Validate() error {
	if a.Size < 4 || a.Size > 512 || a.Size%4 != 0 {
		return fmt.Errorf("cnn: input size %d: want a multiple of 4 in 4..512", a.Size)
	}
	for i, w := range a.Widths {
		if w < 1 || w > 1024 {
			return fmt.Errorf("cnn: width %d of stage %d out of range 1..1024", w, i)
		}
	}
	if a.Classes < 1 || a.Classes > 1<<20 {
		return fmt.Errorf("cnn: %d classes, want 1..%d", a.Classes, 1<<20)
	}
	return nil
}

// New returns a network with He-initialised weights drawn from seed (biases zero; the
// second convolution of each residual block starts small so blocks start near identity).
func New(a Arch, seed uint64) (*Net, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0xc0ffee))
	n := &Net{Arch: a, Params: a.paramSpecs()}
	for i := range n.Params {
		p := &n.Params[i]
		size := 1
		for _, d := range p.Dims {
			size *= d
		}
		p.Data = make([]float32, size)
		if len(p.Dims) == 1 {
			continue
		}
		fanIn := size / p.Dims[0]
		std := math.Sqrt(2 / float64(fanIn))
		if p.Name == "fc.w" {
			std = math.Sqrt(1 / float64(fanIn))
		}
		if len(p.Name) > 5 && p.Name[len(p.Name)-4:] == "c2.w" {
			std *= 0.3
		}
		for k := range p.Data {
			p.Data[k] = float32(rng.NormFloat64() * std)
		}
	}
	return n, nil
}

// Clone returns a deep copy.
func (n *Net) Clone() *Net {
	c := &Net{Arch: n.Arch, Params: make([]Param, len(n.Params))}
	for i, p := range n.Params {
		c.Params[i] = Param{Name: p.Name, Dims: slices.Clone(p.Dims), Data: slices.Clone(p.Data)}
	}
	return c
}

// StageInputShape is the per-image shape entering stage s (NumStages: the pooled
// features).
func (a Arch) StageInputShape(s int) []int {
	switch {
	case s <= StageBlock1:
		c := 3
		if s == StageBlock1 {
			c = a.Widths[0]
		}
		return []int{c, a.Size, a.Size}
	case s <= StageBlock2:
		if s == StageDown1 {
			return []int{a.Widths[0], a.Size, a.Size}
		}
		return []int{a.Widths[1], a.Size / 2, a.Size / 2}
	case s <= StageBlock3:
		if s == StageDown2 {
			return []int{a.Widths[1], a.Size / 2, a.Size / 2}
		}
		return []int{a.Widths[2], a.Size / 4, a.Size / 4}
	}
	return []int{a.Widths[2]}
}

func prod(d []int) int {
	p := 1
	for _, v := range d {
		p *= v
	}
	return p
}

func backend() compute.Backend { return gobackend.GetBackend() }

func relu(x *Node) *Node { return Max(x, ZerosLike(x)) }

func conv(x, w, b *Node, stride int) *Node {
	y := Convolve(x, w).ChannelsAxis(timage.ChannelsFirst).Strides(stride).PadSame().Done()
	return Add(y, Reshape(b, 1, b.Shape().Dim(0), 1, 1))
}

func block(x *Node, p []*Node) *Node {
	h := relu(conv(x, p[0], p[1], 1))
	return relu(Add(x, conv(h, p[2], p[3], 1)))
}

// forward runs stages from..NumStages-1 and the pooling on x, with params indexed like
// Net.Params (entries before stage from may be nil). It returns the pooled features.
func forward(x *Node, p []*Node, from int) *Node {
	for s := from; s < NumStages; s++ {
		r := stageParams[s]
		ps := p[r[0]:r[1]]
		switch s {
		case StageStem:
			x = relu(conv(x, ps[0], ps[1], 1))
		case StageDown1, StageDown2:
			x = relu(conv(x, ps[0], ps[1], 2))
		default:
			x = block(x, ps)
		}
	}
	return ReduceMean(x, 2, 3)
}

// linear is features @ w^T + b with w [out, in].
func linear(f, w, b *Node) *Node {
	return Add(Einsum("bi,oi->bo", f, w), Reshape(b, 1, b.Shape().Dim(0)))
}

// stagesTo runs stages from..to-1 (no pooling).
func stagesTo(x *Node, p []*Node, from, to int) *Node {
	for s := from; s < to; s++ {
		r := stageParams[s]
		ps := p[r[0]:r[1]]
		switch s {
		case StageStem:
			x = relu(conv(x, ps[0], ps[1], 1))
		case StageDown1, StageDown2:
			x = relu(conv(x, ps[0], ps[1], 2))
		default:
			x = block(x, ps)
		}
	}
	return x
}

func tensorOf(p Param) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(slices.Clone(p.Data), p.Dims...)
}

// catch runs f and turns a GoMLX panic into an error.
func catch(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cnn: %s: %v", what, r)
		}
	}()
	return f()
}

// Outputs selects what Run returns per image.
type Outputs int

const (
	// Features are the pooled features [FeatureDim].
	Features Outputs = iota
	// Logits are the classifier outputs [Classes].
	Logits
	// Activation is the activation entering stage To (Run's to argument).
	Activation
)

// Run computes, for n images (or activations entering stage from) laid out
// contiguously in x, either the activation entering stage to (out == Activation) or the
// pooled features / classifier logits. It runs in batches of batch images.
func (n *Net) Run(x []float32, count, from, to int, out Outputs, batch int) ([]float32, error) {
	in := n.Arch.StageInputShape(from)
	inLen := prod(in)
	if len(x) != count*inLen {
		return nil, fmt.Errorf("cnn: run: %d values for %d inputs of shape %v", len(x), count, in)
	}
	if batch <= 0 {
		batch = 64
	}
	var outLen int
	switch out {
	case Features:
		outLen = n.Arch.FeatureDim()
	case Logits:
		outLen = n.Arch.Classes
	default:
		outLen = prod(n.Arch.StageInputShape(to))
	}
	result := make([]float32, count*outLen)
	err := catch("run", func() error {
		exec, err := NewExec(backend(), func(inputs []*Node) *Node {
			xn, p := inputs[0], inputs[1:]
			full := make([]*Node, len(n.Params))
			copy(full[stageParams[from][0]:], p)
			switch out {
			case Features:
				return forward(xn, full, from)
			case Logits:
				r := stageParams[NumStages]
				return linear(forward(xn, full, from), full[r[0]], full[r[0]+1])
			}
			return stagesTo(xn, full, from, to)
		})
		if err != nil {
			return err
		}
		defer exec.Finalize()
		args := make([]any, 1, 1+len(n.Params))
		for _, p := range n.Params[stageParams[from][0]:] {
			args = append(args, tensorOf(p))
		}
		buf := make([]float32, batch*inLen)
		for lo := 0; lo < count; lo += batch {
			m := min(batch, count-lo)
			clear(buf)
			copy(buf, x[lo*inLen:(lo+m)*inLen])
			args[0] = tensors.FromFlatDataAndDimensions(buf, append([]int{batch}, in...)...)
			res, err := exec.Exec(args...)
			if err != nil {
				return err
			}
			flat, err := tensors.CopyFlatData[float32](res[0])
			if err != nil {
				return err
			}
			copy(result[lo*outLen:], flat[:m*outLen])
		}
		return nil
	})
	return result, err
}
