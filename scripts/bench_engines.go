//go:build ignore

// Command bench_engines times the project's engines on ONNX image classifiers at one batch
// size and prints one JSON line per (model, engine): a bare ONNX Runtime session on the
// same fp32 file (the ceiling), the project's ONNX Runtime engine, and the project's pure-Go
// GoMLX engine (few iterations: it is slow). scripts/bench_engines.sh runs it together with
// PyTorch and prints the table.
//
//	go run scripts/bench_engines.go [-batch 32] [-iters 5] [-go-iters 1] NAME=FILE.onnx ...
//
// A file that is not fp32 with a dynamic batch (the SqueezeNet of ../shared) is normalised
// by backbone.Load first; all engines then run the same normalised bytes.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	rt "github.com/yalue/onnxruntime_go"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine"
	"github.com/multilabel/multilabel/engine/gomlx"
	"github.com/multilabel/multilabel/engine/ort"
)

type result struct {
	Model       string  `json:"model"`
	Engine      string  `json:"engine"`
	Batch       int     `json:"batch"`
	Iters       int     `json:"iters"`
	ImagesPerS  float64 `json:"images_per_s"`
	Note        string  `json:"note,omitempty"`
	MaxAbsDiffV float64 `json:"max_abs_diff_vs_ort,omitempty"`
}

func main() {
	batch := flag.Int("batch", 32, "batch size")
	iters := flag.Int("iters", 5, "timed iterations for ONNX Runtime")
	goIters := flag.Int("go-iters", 1, "timed iterations for the pure-Go engine (0 skips it)")
	ortLib := flag.String("ort-lib", "", "ONNX Runtime library (default: search)")
	flag.Parse()
	lib, err := ort.FindLibrary(*ortLib)
	if err != nil {
		log.Fatal(err)
	}
	tmp, err := os.MkdirTemp("", "bench-engines-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for _, arg := range flag.Args() {
		name, path, ok := strings.Cut(arg, "=")
		if !ok {
			log.Fatalf("argument %q: want NAME=FILE.onnx", arg)
		}
		b, err := backbone.Load(path, backbone.Options{})
		if err != nil {
			log.Fatal(err)
		}
		model, err := b.ClassifierModel()
		if err != nil {
			log.Fatal(err)
		}
		fp32 := filepath.Join(tmp, name+".onnx")
		if err := os.WriteFile(fp32, model, 0o644); err != nil {
			log.Fatal(err)
		}
		in := b.InputShape
		per := 1
		for _, d := range in {
			per *= int(d)
		}
		r := rand.New(rand.NewPCG(1, 2))
		x := make([]float32, *batch*per)
		for i := range x {
			x[i] = r.Float32()
		}
		emit := func(res result) {
			res.Model, res.Batch = name, *batch
			json.NewEncoder(os.Stdout).Encode(res)
		}

		// The project engine first: it initialises the ONNX Runtime environment that the
		// bare session then shares.
		oe, err := ort.Open(model, ort.Options{LibPath: lib})
		if err != nil {
			log.Fatalf("%s: ORT engine: %v", name, err)
		}
		bare, err := bareORT(lib, fp32, b.Input, b.Outputs[0], in, x, *batch, *iters)
		if err != nil {
			log.Fatalf("%s: bare ORT: %v", name, err)
		}
		emit(result{Engine: "ort-bare", Iters: *iters, ImagesPerS: bare, Note: fmt.Sprintf("onnxruntime %s, %d intra-op threads", ort.Version, runtime.NumCPU())})

		ortOut, ips, err := timeEngine(oe, x, *batch, *iters)
		if err != nil {
			log.Fatalf("%s: ORT engine: %v", name, err)
		}
		oe.Close()
		emit(result{Engine: "ort-engine", Iters: *iters, ImagesPerS: ips})

		if *goIters > 0 {
			ge, err := gomlx.Open(model, gomlx.Options{MaxBatch: *batch})
			if err != nil {
				log.Fatalf("%s: GoMLX engine: %v", name, err)
			}
			t0 := time.Now()
			if err := ge.Compile(*batch); err != nil {
				log.Fatalf("%s: GoMLX compile: %v", name, err)
			}
			compile := time.Since(t0)
			goOut, ips, err := timeEngine(ge, x, *batch, *goIters)
			if err != nil {
				log.Fatalf("%s: GoMLX engine: %v", name, err)
			}
			ge.Close()
			emit(result{Engine: "gomlx-engine", Iters: *goIters, ImagesPerS: ips, MaxAbsDiffV: maxAbsDiff(goOut, ortOut),
				Note: fmt.Sprintf("compile %.1fs", compile.Seconds())})
		}
	}
}

// timeEngine runs the engine once untimed, then iters times, and returns the last output.
func timeEngine(e engine.Engine, x []float32, n, iters int) ([]float32, float64, error) {
	ctx := context.Background()
	if _, ok := e.(*gomlx.Engine); !ok || iters > 1 {
		if _, err := e.Run(ctx, x, n); err != nil { // warm-up (the pure-Go engine is compiled already)
			return nil, 0, err
		}
	}
	var out []float32
	var err error
	t0 := time.Now()
	for range iters {
		if out, err = e.Run(ctx, x, n); err != nil {
			return nil, 0, err
		}
	}
	return out, float64(n*iters) / time.Since(t0).Seconds(), nil
}

// bareORT times a plain onnxruntime_go session with preallocated tensors on the file.
func bareORT(lib, path, in, out string, inShape []int64, x []float32, n, iters int) (float64, error) {
	if !rt.IsInitialized() {
		rt.SetSharedLibraryPath(lib)
		if err := rt.InitializeEnvironment(); err != nil {
			return 0, err
		}
	}
	shape := append([]int64{int64(n)}, inShape...)
	xt, err := rt.NewTensor(rt.NewShape(shape...), x)
	if err != nil {
		return 0, err
	}
	defer xt.Destroy()
	opts, err := rt.NewSessionOptions()
	if err != nil {
		return 0, err
	}
	defer opts.Destroy()
	opts.SetIntraOpNumThreads(runtime.NumCPU())
	sess, err := rt.NewDynamicAdvancedSession(path, []string{in}, []string{out}, opts)
	if err != nil {
		return 0, err
	}
	defer sess.Destroy()
	run := func() error {
		outs := []rt.Value{nil}
		if err := sess.Run([]rt.Value{xt}, outs); err != nil {
			return err
		}
		return outs[0].Destroy()
	}
	if err := run(); err != nil {
		return 0, err
	}
	t0 := time.Now()
	for range iters {
		if err := run(); err != nil {
			return 0, err
		}
	}
	return float64(n*iters) / time.Since(t0).Seconds(), nil
}

func maxAbsDiff(a, b []float32) float64 {
	m := 0.0
	for i := range min(len(a), len(b)) {
		d := float64(a[i] - b[i])
		if d < 0 {
			d = -d
		}
		m = max(m, d)
	}
	return m
}
