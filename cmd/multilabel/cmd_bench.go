package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/multilabel/multilabel/internal/bench"

	// libjpeg-turbo as the JPEG decoder of the whole binary (the pure-Go decoder when the
	// library is absent or MULTILABEL_NO_TURBOJPEG=1).
	_ "github.com/multilabel/multilabel/imageio/turbo"
)

func init() {
	register(&command{name: "bench e2e", summary: "benchmark files -> features against bare ONNX Runtime, PyTorch and pure Go", run: runBenchE2E})
}

// benchE2EStdout receives the table or JSON (tests swap it).
var benchE2EStdout io.Writer = os.Stdout

type modelFlags []string

func (m *modelFlags) String() string     { return strings.Join(*m, ",") }
func (m *modelFlags) Set(v string) error { *m = append(*m, v); return nil }

// runBenchE2E prints the end-to-end benchmark table (see package bench).
func runBenchE2E(ctx context.Context, args []string) error {
	fs := newFlags("bench e2e", "[--model NAME=FILE.onnx ...] [--images DIR] [--n 512] [--json]")
	var models modelFlags
	fs.Var(&models, "model", "NAME=FILE.onnx to measure (repeatable); default: ResNet-18 and MobileNetV2 exported by PyTorch with random weights into a temp dir, and --squeezenet")
	squeeze := fs.String("squeezenet", "../shared/models/squeezenet1.1/squeezenet1.1-fp16.onnx", "SqueezeNet file added to the default models (skipped when absent)")
	images := fs.String("images", "../shared/data/miml-scenes/images", "directory of JPEG images")
	n := fs.Int("n", 512, "images per end-to-end pass")
	batch := fs.Int("batch", 32, "engine batch size")
	threads := fs.Int("threads", 0, "ONNX Runtime intra-op threads (0: all CPUs)")
	workers := fs.Int("workers", 0, "image loader workers (0: all CPUs)")
	spin := fs.Bool("spin", false, "let idle ONNX Runtime threads busy-wait (steals the loader's cores)")
	minTime := fs.Duration("min-time", 3*time.Second, "minimum time per throughput measurement")
	goImages := fs.Int("go-images", 2, "images through the pure-Go GoMLX engine (0 skips)")
	latRuns := fs.Int("latency-runs", 200, "single-image runs for the latency percentiles (-1 skips)")
	settings := fs.Bool("settings", true, "sweep ONNX Runtime settings")
	python := fs.String("python", "/usr/bin/python3", "Python with torch and PIL for the PyTorch column and the default models (\"\" skips PyTorch)")
	torchScript := fs.String("torch-script", "scripts/bench_e2e_torch.py", "PyTorch end-to-end script")
	exportScript := fs.String("export-script", "scripts/bench_engines.py", "script exporting the default ResNet-18 and MobileNetV2")
	ortLib := fs.String("ort-lib", "", "ONNX Runtime library (default: search)")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < 1 || *batch < 1 || *batch > 1024 {
		return usageErrorf("--n and --batch must be positive (batch <= 1024)")
	}
	paths, err := filepath.Glob(filepath.Join(*images, "*.jp*g"))
	if err != nil || len(paths) == 0 {
		return badInput(fmt.Errorf("--images %s: no JPEG files", *images))
	}
	slices.Sort(paths)
	opt := bench.Options{Images: paths, MaxImages: *n, Batch: *batch, Threads: *threads, Workers: *workers,
		Spin: *spin, MinTime: *minTime, ORTLib: *ortLib, GoImages: *goImages, LatencyRuns: *latRuns,
		Settings: *settings, Python: *python, TorchScript: *torchScript, Log: os.Stderr}
	if *python != "" {
		if _, err := os.Stat(*torchScript); err != nil {
			return badInput(fmt.Errorf("--torch-script: %w", err))
		}
	}
	for _, m := range models {
		name, path, ok := strings.Cut(m, "=")
		if !ok || name == "" || path == "" {
			return usageErrorf("--model %q: want NAME=FILE.onnx", m)
		}
		opt.Models = append(opt.Models, bench.Model{Name: name, Path: path, TorchName: torchName(name)})
	}
	if len(models) == 0 {
		if *python == "" {
			return usageErrorf("the default models are exported with --python; give --model NAME=FILE instead")
		}
		tmp, err := os.MkdirTemp("", "multilabel-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		cmd := exec.CommandContext(ctx, *python, *exportScript, "export", tmp)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("exporting the default models with %s %s: %w", *python, *exportScript, err)
		}
		opt.Models = []bench.Model{
			{Name: "resnet18", Path: filepath.Join(tmp, "resnet18.onnx"), TorchName: "resnet18"},
			{Name: "mobilenetv2", Path: filepath.Join(tmp, "mobilenetv2.onnx"), TorchName: "mobilenetv2"},
		}
		if _, err := os.Stat(*squeeze); err == nil {
			opt.Models = append(opt.Models, bench.Model{Name: "squeezenet1.1", Path: *squeeze, TorchName: "squeezenet1.1"})
		} else {
			fmt.Fprintf(os.Stderr, "note: %s not found, SqueezeNet skipped\n", *squeeze)
		}
	}
	rep, err := bench.Run(ctx, opt)
	if err != nil {
		return err
	}
	if *jsonOut {
		enc := json.NewEncoder(benchE2EStdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteTable(benchE2EStdout)
}

// torchName maps a model name to the architecture the PyTorch script builds ("" when none).
func torchName(name string) string {
	l := strings.ToLower(name)
	switch {
	case strings.Contains(l, "resnet18") || strings.Contains(l, "resnet-18"):
		return "resnet18"
	case strings.Contains(l, "mobilenetv2") || strings.Contains(l, "mobilenet_v2"):
		return "mobilenetv2"
	case strings.Contains(l, "squeezenet"):
		return "squeezenet1.1"
	}
	return ""
}
