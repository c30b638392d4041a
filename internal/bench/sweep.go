package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	rt "github.com/yalue/onnxruntime_go"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/internal/half"
)

// maxSweepBatch is the largest batch the settings sweep tries.
const maxSweepBatch = 64

// ioNames returns the first input and output names of a model.
func ioNames(model []byte) (string, string, error) {
	ins, outs, err := rt.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return "", "", err
	}
	if len(ins) == 0 || len(outs) == 0 {
		return "", "", fmt.Errorf("model has %d inputs and %d outputs", len(ins), len(outs))
	}
	return ins[0].Name, outs[0].Name, nil
}

// sweep measures ONNX Runtime settings one at a time against the default (all graph
// optimisations, arena on, spinning as in opt, batch opt.Batch) on bare sessions. Each
// setting is paired with a window of the default session right before it, and its
// relative figure is against that window, so slow drifts of a shared machine's load
// cancel out.
func sweep(ctx context.Context, opt *Options, m Model, bb *backbone.Backbone, model []byte, x []float32, tl int,
	bare func(SessionConfig, int, time.Duration) (float64, error), def *bareSession) []Setting {
	base := SessionConfig{Threads: opt.Threads, NoSpin: !opt.Spin}
	win := max(opt.MinTime/2, 100*time.Millisecond)
	var out []Setting
	measure := func(name, value string, c SessionConfig, batch int) {
		if ctx.Err() != nil {
			return
		}
		d, err := timeRuns(def.run, 2, win)
		s := Setting{Model: m.Name, Name: name, Value: value}
		if err == nil {
			s.ImagesPS, err = bare(c, batch, win)
		}
		if err != nil {
			s.Note = err.Error()
		} else if d > 0 {
			s.Relative = s.ImagesPS / (d * float64(opt.Batch))
		}
		out = append(out, s)
	}
	if d, err := timeRuns(def.run, 2, win); err == nil {
		out = append(out, Setting{Model: m.Name, Name: "default", Value: fmt.Sprintf("opt=all arena=on spin=%v batch=%d", opt.Spin, opt.Batch),
			ImagesPS: d * float64(opt.Batch), Relative: 1})
	}
	for _, lvl := range []string{"extended", "basic", "disabled"} {
		c := base
		c.OptLevel = lvl
		measure("graph optimisation", lvl, c, opt.Batch)
	}
	c := base
	c.NoArena = true
	measure("CPU memory arena", "off", c, opt.Batch)
	c = base
	c.NoSpin = !c.NoSpin
	measure("intra-op spinning", fmt.Sprint(!c.NoSpin), c, opt.Batch)
	for _, b := range []int{1, 8, 16, maxSweepBatch} {
		if b != opt.Batch {
			measure("batch size", fmt.Sprint(b), base, b)
		}
	}
	out = append(out, Setting{Model: m.Name, Name: "I/O binding", Value: "n/a",
		Note: "onnxruntime_go has no IoBinding; on CPU the bare session's preallocated input and output tensors are the equivalent"})
	if v, note, err := fp16AsStored(opt, m.Name, bb, x, tl); err == nil {
		out = append(out, v...)
	} else {
		if note == "" {
			note = err.Error()
		}
		out = append(out, Setting{Model: m.Name, Name: "fp16 as stored", Value: "-", Note: note})
	}
	return out
}

// fp16AsStored compares, when the model file stores float16 (the shared SqueezeNet), the
// file run as stored (float16 input and weights, its own batch) with the float32 graph
// backbone.Load converts it to, at the same batch.
func fp16AsStored(opt *Options, name string, bb *backbone.Backbone, x []float32, tl int) ([]Setting, string, error) {
	orig, err := os.ReadFile(bb.Path)
	if err != nil {
		return nil, "", err
	}
	ins, outs, err := rt.GetInputOutputInfoWithONNXData(orig)
	if err != nil {
		return nil, "", err
	}
	var in *rt.InputOutputInfo
	for i := range ins {
		if len(ins[i].Dimensions) == 4 { // the image input (old files list weights as inputs too)
			in = &ins[i]
			break
		}
	}
	if in == nil || in.DataType != rt.TensorElementDataTypeFloat16 || len(outs) == 0 {
		return nil, "file is not float16 (nothing to compare)", fmt.Errorf("not fp16")
	}
	batch := int(in.Dimensions[0])
	if batch <= 0 {
		batch = opt.Batch
	}
	shape := rt.NewShape(append([]int64{int64(batch)}, in.Dimensions[1:]...)...)
	n := shape.FlattenedSize()
	h16 := make([]byte, 2*n)
	for i := range int(n) {
		h := half.FromFloat32(x[i%len(x)])
		h16[2*i], h16[2*i+1] = byte(h), byte(h>>8)
	}
	cfg := SessionConfig{Threads: opt.Threads, NoSpin: !opt.Spin}
	so, err := cfg.options()
	if err != nil {
		return nil, "", err
	}
	defer so.Destroy()
	sess, err := rt.NewDynamicAdvancedSessionWithONNXData(orig, []string{in.Name}, []string{outs[0].Name}, so)
	if err != nil {
		return nil, "", fmt.Errorf("fp16 session: %w", err)
	}
	defer sess.Destroy()
	t, err := rt.NewCustomDataTensor(shape, h16, rt.TensorElementDataTypeFloat16)
	if err != nil {
		return nil, "", err
	}
	defer t.Destroy()
	// The output is preallocated too (onnxruntime_go cannot wrap an ONNX-allocated float16
	// output), with the file's output shape at this batch.
	od := append([]int64{int64(batch)}, outs[0].Dimensions[1:]...)
	for i, d := range od {
		if d <= 0 {
			return nil, "", fmt.Errorf("float16 output %q has a dynamic dimension %d", outs[0].Name, i)
		}
	}
	oshape := rt.NewShape(od...)
	ot, err := rt.NewCustomDataTensor(oshape, make([]byte, 2*oshape.FlattenedSize()), outs[0].DataType)
	if err != nil {
		return nil, "", err
	}
	defer ot.Destroy()
	run16 := func() error { return sess.Run([]rt.Value{t}, []rt.Value{ot}) }
	r16, err := timeRuns(run16, 3, opt.MinTime)
	if err != nil {
		return nil, "", err
	}
	cls, err := bb.ClassifierModel()
	if err != nil {
		return nil, "", err
	}
	inName, outName, err := ioNames(cls)
	if err != nil {
		return nil, "", err
	}
	_, clsOuts, err := rt.GetInputOutputInfoWithONNXData(cls)
	if err != nil {
		return nil, "", err
	}
	outShape := clsOuts[0].Dimensions[1:]
	s32, err := newBareSession(cls, cfg, inName, outName, bb.InputShape, outShape, batch, x[:batch*tl])
	if err != nil {
		return nil, "", err
	}
	defer s32.close()
	r32, err := timeRuns(s32.run, 3, opt.MinTime)
	if err != nil {
		return nil, "", err
	}
	return []Setting{
		{Model: name, Name: "fp16 as stored", Value: fmt.Sprintf("float16 file, batch %d", batch), ImagesPS: r16 * float64(batch), Relative: r16 / r32, Note: "relative to the float32 conversion at the same batch"},
		{Model: name, Name: "fp16 converted", Value: fmt.Sprintf("float32 (backbone.Load), batch %d", batch), ImagesPS: r32 * float64(batch), Relative: 1},
	}, "", nil
}
