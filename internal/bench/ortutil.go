package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/gomlx/compute-onnx/support/protos"
	rt "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/engine/ort"
)

// SessionConfig are the ONNX Runtime settings a bare session is measured with.
type SessionConfig struct {
	Threads  int    // intra-op threads; 0: runtime.NumCPU()
	OptLevel string // "all" (default), "extended", "basic", "disabled"
	NoArena  bool   // disable the CPU memory arena
	NoSpin   bool   // intra-op threads do not busy-wait
}

func (c SessionConfig) options() (*rt.SessionOptions, error) {
	so, err := rt.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	th := c.Threads
	if th <= 0 {
		th = runtime.NumCPU()
	}
	var level rt.GraphOptimizationLevel = rt.GraphOptimizationLevelEnableAll
	switch c.OptLevel {
	case "", "all":
	case "extended":
		level = rt.GraphOptimizationLevelEnableExtended
	case "basic":
		level = rt.GraphOptimizationLevelEnableBasic
	case "disabled":
		level = rt.GraphOptimizationLevelDisableAll
	default:
		so.Destroy()
		return nil, fmt.Errorf("optimisation level %q: want all, extended, basic or disabled", c.OptLevel)
	}
	errs := []error{so.SetIntraOpNumThreads(th), so.SetInterOpNumThreads(1), so.SetGraphOptimizationLevel(level)}
	if c.NoArena {
		errs = append(errs, so.SetCpuMemArena(false))
	}
	if c.NoSpin {
		errs = append(errs, so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"))
	}
	if err := errors.Join(errs...); err != nil {
		so.Destroy()
		return nil, err
	}
	return so, nil
}

// ensureORT initialises the ONNX Runtime environment through the project's engine (a tiny
// GEMM graph), so bare sessions share it.
func ensureORT(lib string) error {
	m, err := gemmModel(8, 8)
	if err != nil {
		return err
	}
	e, err := ort.Open(m, ort.Options{LibPath: lib, IntraOpThreads: 1})
	if err != nil {
		return err
	}
	return e.Close()
}

// bareSession is a plain onnxruntime_go session with preallocated float32 input and
// output tensors: what a hand-written program would do, the ceiling for the engine.
type bareSession struct {
	sess *rt.DynamicAdvancedSession
	in   *rt.Tensor[float32]
	out  *rt.Tensor[float32]
}

func newBareSession(model []byte, cfg SessionConfig, inName, outName string, inShape, outShape []int64, batch int, x []float32) (*bareSession, error) {
	so, err := cfg.options()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	sess, err := rt.NewDynamicAdvancedSessionWithONNXData(model, []string{inName}, []string{outName}, so)
	if err != nil {
		return nil, err
	}
	b := &bareSession{sess: sess}
	b.in, err = rt.NewTensor(rt.NewShape(append([]int64{int64(batch)}, inShape...)...), x)
	if err == nil {
		b.out, err = rt.NewEmptyTensor[float32](rt.NewShape(append([]int64{int64(batch)}, outShape...)...))
	}
	if err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bareSession) run() error {
	return b.sess.Run([]rt.Value{b.in}, []rt.Value{b.out})
}

func (b *bareSession) close() {
	if b.in != nil {
		b.in.Destroy()
	}
	if b.out != nil {
		b.out.Destroy()
	}
	b.sess.Destroy()
}

// timeRuns calls run once untimed, then until both minRuns calls and minDur have passed,
// and returns the calls per second.
func timeRuns(run func() error, minRuns int, minDur time.Duration) (float64, error) {
	if err := run(); err != nil {
		return 0, err
	}
	n := 0
	t0 := time.Now()
	for n < minRuns || time.Since(t0) < minDur {
		if err := run(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

// gemmModel is the ONNX graph Y[N,m] = X[N,k] · W[k,m] with a constant random W: the
// GEMM micro-benchmark that measures the machine's attainable peak through the same
// ONNX Runtime (its MLAS kernels) the models use.
func gemmModel(k, m int) ([]byte, error) {
	r := rand.New(rand.NewPCG(7, 11))
	w := make([]float32, k*m)
	for i := range w {
		w[i] = r.Float32() - 0.5
	}
	f := int32(protos.TensorProto_FLOAT)
	dim := func(v int64) *protos.TensorShapeProto_Dimension {
		return &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: v}}
	}
	batch := &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}
	vi := func(name string, d int64) *protos.ValueInfoProto {
		return &protos.ValueInfoProto{Name: name, Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{
			TensorType: &protos.TypeProto_Tensor{ElemType: f, Shape: &protos.TensorShapeProto{Dim: []*protos.TensorShapeProto_Dimension{batch, dim(d)}}}}}}
	}
	g := &protos.GraphProto{
		Name:        "gemm",
		Node:        []*protos.NodeProto{{OpType: "MatMul", Input: []string{"X", "W"}, Output: []string{"Y"}, Name: "mm"}},
		Initializer: []*protos.TensorProto{{Name: "W", DataType: f, Dims: []int64{int64(k), int64(m)}, FloatData: w}},
		Input:       []*protos.ValueInfoProto{vi("X", int64(k))},
		Output:      []*protos.ValueInfoProto{vi("Y", int64(m))},
	}
	mp := &protos.ModelProto{IrVersion: 8, ProducerName: "multilabel-bench", Graph: g,
		OpsetImport: []*protos.OperatorSetIdProto{{Domain: "", Version: 13}}}
	return proto.Marshal(mp)
}

// PeakGFLOPS measures the best GFLOP/s of a size×size×size float32 GEMM in ONNX Runtime
// with the given settings (the attainable peak the models are compared with).
func PeakGFLOPS(cfg SessionConfig, size int, minDur time.Duration) (float64, error) {
	m, err := gemmModel(size, size)
	if err != nil {
		return 0, err
	}
	x := make([]float32, size*size)
	for i := range x {
		x[i] = float32(i%17) * 0.01
	}
	s, err := newBareSession(m, cfg, "X", "Y", []int64{int64(size)}, []int64{int64(size)}, size, x)
	if err != nil {
		return 0, fmt.Errorf("GEMM session: %w", err)
	}
	defer s.close()
	if err := s.run(); err != nil {
		return 0, err
	}
	// The best of short windows: the peak, not the average of a shared machine's noise.
	best := 0.0
	t0 := time.Now()
	for time.Since(t0) < minDur || best == 0 {
		rate, err := timeRuns(s.run, 3, 0)
		if err != nil {
			return 0, err
		}
		best = max(best, rate)
	}
	return best * 2 * float64(size) * float64(size) * float64(size) / 1e9, nil
}

// CountFLOPs returns the floating-point operations (2 per multiply-add) of one sample
// through a float32 model with one input, counting Conv, Gemm and MatMul nodes whose
// weights are initializers. The output shapes come from ONNX Runtime itself: the graph
// is run once at batch 1 with every such node's output exposed.
func CountFLOPs(model []byte, inName string, inShape []int64) (float64, error) {
	var mp protos.ModelProto
	if err := proto.Unmarshal(model, &mp); err != nil {
		return 0, fmt.Errorf("parsing the model: %w", err)
	}
	g := mp.Graph
	dims := map[string][]int64{}
	for _, t := range g.Initializer {
		dims[t.Name] = t.Dims
	}
	type op struct {
		out string
		k   int64 // multiply-adds per output element
	}
	var ops []op
	have := map[string]bool{}
	for _, o := range g.Output {
		have[o.Name] = true
	}
	for _, n := range g.Node {
		if len(n.Input) < 2 || len(n.Output) == 0 {
			continue
		}
		w := dims[n.Input[1]]
		var k int64
		switch n.OpType {
		case "Conv": // W: [Cout, Cin/groups, kh, kw]
			if len(w) >= 3 {
				k = 1
				for _, d := range w[1:] {
					k *= d
				}
			}
		case "MatMul": // W: [K, M]
			if len(w) == 2 {
				k = w[0]
			}
		case "Gemm": // W: [M, K] with transB, else [K, M]
			if len(w) == 2 {
				k = w[0]
				for _, a := range n.Attribute {
					if a.Name == "transB" && a.I == 1 {
						k = w[1]
					}
				}
			}
		}
		if k == 0 {
			continue
		}
		ops = append(ops, op{n.Output[0], k})
		if !have[n.Output[0]] {
			have[n.Output[0]] = true
			g.Output = append(g.Output, &protos.ValueInfoProto{Name: n.Output[0], Type: &protos.TypeProto{
				Value: &protos.TypeProto_TensorType{TensorType: &protos.TypeProto_Tensor{ElemType: int32(protos.TensorProto_FLOAT)}}}})
		}
	}
	if len(ops) == 0 {
		return 0, errors.New("no Conv/Gemm/MatMul node with initializer weights")
	}
	data, err := proto.Marshal(&mp)
	if err != nil {
		return 0, err
	}
	names := make([]string, len(ops))
	for i, o := range ops {
		names[i] = o.out
	}
	so, err := SessionConfig{Threads: 1, OptLevel: "disabled"}.options()
	if err != nil {
		return 0, err
	}
	defer so.Destroy()
	sess, err := rt.NewDynamicAdvancedSessionWithONNXData(data, []string{inName}, names, so)
	if err != nil {
		return 0, fmt.Errorf("session with exposed outputs: %w", err)
	}
	defer sess.Destroy()
	n := int64(1)
	for _, d := range inShape {
		n *= d
	}
	in, err := rt.NewTensor(rt.NewShape(append([]int64{1}, inShape...)...), make([]float32, n))
	if err != nil {
		return 0, err
	}
	defer in.Destroy()
	outs := make([]rt.Value, len(names))
	if err := sess.Run([]rt.Value{in}, outs); err != nil {
		return 0, err
	}
	total := 0.0
	for i, o := range outs {
		total += 2 * float64(o.GetShape().FlattenedSize()) * float64(ops[i].k)
		o.Destroy()
	}
	return total, nil
}
