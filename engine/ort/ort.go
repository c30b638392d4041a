// Package ort runs ONNX graphs with ONNX Runtime (the fast path) through
// github.com/yalue/onnxruntime_go, which loads the native library at run time.
//
// The library is looked up, in order, at Options.LibPath, $ONNXRUNTIME_LIB and the
// project's install place, os.UserCacheDir()/multilabel/onnxruntime/1.24.1/libonnxruntime.so.1
// (scripts/install-onnxruntime.sh puts it there). The ONNX Runtime environment is created
// once per process; the first library loaded stays loaded.
//
// Concurrency: Engine.Run may be called from several goroutines at once. Each call wraps
// the caller's input slice and a fresh output slice as ONNX Runtime tensors without
// copying them (no shared mutable state), and ONNX Runtime sessions support concurrent
// Run calls. Concurrent calls share the session's intra-op thread pool, so for throughput
// one caller with large batches is best.
package ort

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/engine"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/internal/onnxcheck"

	rt "github.com/yalue/onnxruntime_go"
)

// Version is the ONNX Runtime version this package is built and tested against
// (onnxruntime_go v1.27.0 wraps the C API of ONNX Runtime 1.24.1).
const Version = "1.24.1"

// ErrNoLibrary reports that the ONNX Runtime shared library could not be found.
var ErrNoLibrary = errors.New("ONNX Runtime library not found (run scripts/install-onnxruntime.sh, or set ONNXRUNTIME_LIB or --ort-lib)")

// Options configure an Engine.
type Options struct {
	// LibPath is the ONNX Runtime shared library; "" searches as described in the
	// package documentation.
	LibPath string
	// IntraOpThreads is the number of threads one Run uses; 0 means runtime.NumCPU().
	IntraOpThreads int
	// NoSpinning stops idle intra-op threads from busy-waiting for work (ONNX Runtime
	// spins by default, which is fastest when it owns the cores but steals them from a
	// concurrent image loader).
	NoSpinning bool
	// DisableOptimizations turns ONNX Runtime's graph optimisations off (for debugging
	// numerical differences); by default all optimisations are enabled.
	DisableOptimizations bool
}

// DefaultLibPath is the project's install place of the library ("" when the user cache
// directory is unknown).
func DefaultLibPath() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(cache, "multilabel", "onnxruntime", Version, "libonnxruntime.so.1")
}

// FindLibrary returns the library path: flag when not empty (it must exist), else
// $ONNXRUNTIME_LIB, else DefaultLibPath. It wraps ErrNoLibrary when nothing is found.
func FindLibrary(flag string) (string, error) {
	if flag != "" {
		if _, err := os.Stat(flag); err != nil {
			return "", fmt.Errorf("ONNX Runtime library %s: %w", flag, errors.Join(ErrNoLibrary, err))
		}
		return flag, nil
	}
	if p := os.Getenv("ONNXRUNTIME_LIB"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("ONNXRUNTIME_LIB=%s: %w", p, errors.Join(ErrNoLibrary, err))
		}
		return p, nil
	}
	if p := DefaultLibPath(); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		return "", fmt.Errorf("looked at %s: %w", p, ErrNoLibrary)
	}
	return "", ErrNoLibrary
}

// Available reports whether the library can be found (it does not load it).
func Available() bool {
	if initDone() {
		return initErr == nil
	}
	_, err := FindLibrary("")
	return err == nil
}

var (
	initMu   sync.Mutex
	initOnce bool
	initErr  error
	initLib  string
)

func initDone() bool {
	initMu.Lock()
	defer initMu.Unlock()
	return initOnce
}

// initialize loads the library and creates the process-wide environment once. Later
// calls return the first outcome; a different library path after a successful load is
// ignored (one library per process).
func initialize(libFlag string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if initOnce {
		return initErr
	}
	lib, err := FindLibrary(libFlag)
	if err != nil {
		// Not remembered: the user may install the library and retry.
		return err
	}
	initOnce = true
	initLib = lib
	rt.SetSharedLibraryPath(lib)
	if err := rt.InitializeEnvironment(rt.WithLogLevelError()); err != nil {
		initErr = fmt.Errorf("ONNX Runtime library %s: %w", lib, err)
		return initErr
	}
	return nil
}

// Engine runs one graph with one float32 input and one float32 output. The batch
// dimension (the first) may be dynamic; a graph whose batch is fixed to B accepts only
// multiples of B, which Run splits into calls of B.
type Engine struct {
	sess       *rt.DynamicAdvancedSession
	inName     string
	outName    string
	inShape    []int64 // per sample
	outShape   []int64 // per sample
	fixedBatch int64   // > 0 when the graph's batch dimension is fixed
	inLen      int
	outLen     int
	threads    int

	mu     sync.RWMutex // guards closed against Run
	closed bool
}

// Open creates a session for an ONNX model (serialized bytes) with one float32 input and
// one float32 output (extra outputs are ignored: the first is used).
//
// The graph is checked first as the pure-Go engine checks it (package internal/onnxcheck:
// cycles, declared sizes, external data); errors about the model itself — those checks
// and ONNX Runtime's refusal to load or create a session for it — match
// errkind.ErrBadInput.
func Open(model []byte, opt Options) (*Engine, error) {
	if err := initialize(opt.LibPath); err != nil {
		return nil, err
	}
	if err := checkModel(model); err != nil {
		return nil, fmt.Errorf("onnxruntime: %w", err)
	}
	ins, outs, err := rt.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: reading model inputs/outputs: %w", errkind.WrapBadInput(err))
	}
	if len(ins) != 1 {
		return nil, fmt.Errorf("onnxruntime: model has %d inputs, want exactly 1 (an image batch)", len(ins))
	}
	if len(outs) < 1 {
		return nil, errors.New("onnxruntime: model has no outputs")
	}
	in, out := ins[0], outs[0]
	if in.DataType != rt.TensorElementDataTypeFloat || out.DataType != rt.TensorElementDataTypeFloat {
		return nil, fmt.Errorf("onnxruntime: input %q is %v and output %q is %v, want float32 (convert with backbone.Load)", in.Name, in.DataType, out.Name, out.DataType)
	}
	if len(in.Dimensions) < 1 || len(out.Dimensions) < 1 {
		return nil, fmt.Errorf("onnxruntime: input %q shape %v / output %q shape %v: both need a batch dimension", in.Name, in.Dimensions, out.Name, out.Dimensions)
	}
	e := &Engine{inName: in.Name, outName: out.Name,
		inShape:  append([]int64(nil), in.Dimensions[1:]...),
		outShape: append([]int64(nil), out.Dimensions[1:]...)}
	if b := in.Dimensions[0]; b > 0 {
		e.fixedBatch = b
	}
	var err2 error
	if e.inLen, err2 = sampleLen(e.inShape); err2 != nil {
		return nil, fmt.Errorf("onnxruntime: input %q shape %v: %w", in.Name, in.Dimensions, err2)
	}
	if e.outLen, err2 = sampleLen(e.outShape); err2 != nil {
		return nil, fmt.Errorf("onnxruntime: output %q shape %v: %w", out.Name, out.Dimensions, err2)
	}

	so, err := rt.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: session options: %w", err)
	}
	defer so.Destroy()
	e.threads = opt.IntraOpThreads
	if e.threads <= 0 {
		e.threads = runtime.NumCPU()
	}
	if err := so.SetIntraOpNumThreads(e.threads); err != nil {
		return nil, fmt.Errorf("onnxruntime: intra-op threads: %w", err)
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("onnxruntime: inter-op threads: %w", err)
	}
	if opt.NoSpinning {
		if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
			return nil, fmt.Errorf("onnxruntime: spinning: %w", err)
		}
	}
	var level rt.GraphOptimizationLevel = rt.GraphOptimizationLevelEnableAll
	if opt.DisableOptimizations {
		level = rt.GraphOptimizationLevelDisableAll
	}
	if err := so.SetGraphOptimizationLevel(level); err != nil {
		return nil, fmt.Errorf("onnxruntime: optimization level: %w", err)
	}
	e.sess, err = rt.NewDynamicAdvancedSessionWithONNXData(model, []string{in.Name}, []string{out.Name}, so)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: creating session: %w", errkind.WrapBadInput(err))
	}
	return e, nil
}

// sampleLen multiplies the per-sample dimensions; dynamic (non-positive) ones are errors.
func sampleLen(dims []int64) (int, error) {
	n := int64(1)
	for _, d := range dims {
		if d <= 0 {
			return 0, fmt.Errorf("dynamic non-batch dimension (fix it in the graph, e.g. with backbone.Load)")
		}
		n *= d
		if n > 1<<31 {
			return 0, errors.New("sample too large")
		}
	}
	return int(n), nil
}

// Name describes the engine.
func (e *Engine) Name() string {
	return fmt.Sprintf("ort (onnxruntime %s, %d threads)", Version, e.threads)
}

// InputShape is the per-sample input shape.
func (e *Engine) InputShape() []int64 { return append([]int64(nil), e.inShape...) }

// OutputShape is the per-sample output shape.
func (e *Engine) OutputShape() []int64 { return append([]int64(nil), e.outShape...) }

// Run runs n samples; see engine.Engine. It is safe for concurrent use. The context
// aborts a running batch (ONNX Runtime's terminate flag).
func (e *Engine) Run(ctx context.Context, input []float32, n int) ([]float32, error) {
	if n < 0 || len(input) != n*e.inLen {
		return nil, fmt.Errorf("onnxruntime: input has %d values, want %d samples × %d", len(input), n, e.inLen)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]float32, n*e.outLen)
	if n == 0 {
		return out, nil
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, errors.New("onnxruntime: engine is closed")
	}
	step := n
	if e.fixedBatch > 0 {
		step = int(e.fixedBatch)
		if n%step != 0 {
			return nil, fmt.Errorf("onnxruntime: graph batch is fixed to %d, cannot run %d samples", step, n)
		}
	}
	var opts *rt.RunOptions
	if ctx.Done() != nil {
		var err error
		if opts, err = rt.NewRunOptions(); err != nil {
			return nil, fmt.Errorf("onnxruntime: run options: %w", err)
		}
		defer opts.Destroy()
		stop := context.AfterFunc(ctx, func() { opts.Terminate() })
		defer stop()
	}
	for s := 0; s < n; s += step {
		if err := e.runOne(input[s*e.inLen:(s+step)*e.inLen], out[s*e.outLen:(s+step)*e.outLen], step, opts); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			return nil, err
		}
	}
	return out, nil
}

// runOne wraps in and out (no copies) as tensors of batch b and runs the session.
func (e *Engine) runOne(in, out []float32, b int, opts *rt.RunOptions) error {
	inT, err := rt.NewTensor(shapeWithBatch(b, e.inShape), in)
	if err != nil {
		return fmt.Errorf("onnxruntime: input tensor: %w", err)
	}
	defer inT.Destroy()
	outT, err := rt.NewTensor(shapeWithBatch(b, e.outShape), out)
	if err != nil {
		return fmt.Errorf("onnxruntime: output tensor: %w", err)
	}
	defer outT.Destroy()
	if err := e.sess.RunWithOptions([]rt.Value{inT}, []rt.Value{outT}, opts); err != nil {
		return fmt.Errorf("onnxruntime: %w", err)
	}
	return nil
}

func shapeWithBatch(b int, per []int64) rt.Shape {
	s := make(rt.Shape, 0, len(per)+1)
	s = append(s, int64(b))
	return append(s, per...)
}

// Close releases the session; later Runs fail. It waits for running calls.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	if e.sess != nil {
		if err := e.sess.Destroy(); err != nil {
			return fmt.Errorf("onnxruntime: closing session: %w", err)
		}
	}
	return nil
}

// Library returns the library path loaded in this process ("" before the first Open).
func Library() string {
	initMu.Lock()
	defer initMu.Unlock()
	return initLib
}

var _ engine.Engine = (*Engine)(nil)

// checkModel parses model and runs onnxcheck on it; a model that does not parse is left
// to ONNX Runtime's own message.
func checkModel(model []byte) error {
	var mp protos.ModelProto
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(model, &mp); err != nil {
		return errkind.BadInput("not a valid ONNX model (protobuf decoding failed): %v", err)
	}
	return onnxcheck.Check(&mp, onnxcheck.Limits{})
}
