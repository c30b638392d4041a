package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/internal/bench"

	// libjpeg-turbo as the JPEG decoder of the whole binary (the pure-Go decoder when the
	// library is absent or MULTILABEL_NO_TURBOJPEG=1).
	_ "github.com/multilabel/multilabel/imageio/turbo"
)

func newBenchCmd(e *env) *cobra.Command {
	return groupCmd("bench", "benchmarks: end to end against the peers, training steps against PyTorch, the HTTP service under load", newBenchE2ECmd(e), newBenchServeCmd(e), newBenchTrainCmd(e))
}

// benchE2EFlags are the flags of bench e2e.
type benchE2EFlags struct {
	models                                                     []string
	squeeze, images, python, torchScript, exportScript, ortLib string
	n, batch, threads, workers, goImages, latRuns              int
	spin, settings, jsonOut                                    bool
	minTime                                                    time.Duration
}

func newBenchE2ECmd(e *env) *cobra.Command {
	var f benchE2EFlags
	c := &cobra.Command{
		Use:   "e2e [--model NAME=FILE.onnx ...] [--images DIR] [--n 512] [--json]",
		Short: "benchmark files -> features against bare ONNX Runtime, PyTorch and pure Go",
		Args:  noArgs,
	}
	fs := c.Flags()
	fs.StringArrayVar(&f.models, "model", nil, "NAME=FILE.onnx to measure (repeatable); default: ResNet-18 and MobileNetV2 exported by PyTorch with random weights into a temp dir, and --squeezenet")
	fs.StringVar(&f.squeeze, "squeezenet", "../shared/models/squeezenet1.1/squeezenet1.1-fp16.onnx", "SqueezeNet file added to the default models (skipped when absent)")
	fs.StringVar(&f.images, "images", "../shared/data/miml-scenes/images", "directory of JPEG images")
	fs.IntVar(&f.n, "n", 512, "images per end-to-end pass")
	fs.IntVar(&f.batch, "batch-size", defaultBatchSize, "engine batch size")
	aliasFlag(fs, "batch", "batch-size")
	fs.IntVar(&f.threads, "threads", 0, "ONNX Runtime intra-op threads (0: all CPUs)")
	fs.IntVar(&f.workers, "workers", 0, "image loader workers (0: all CPUs)")
	fs.BoolVar(&f.spin, "spin", false, "let idle ONNX Runtime threads busy-wait (steals the loader's cores)")
	fs.DurationVar(&f.minTime, "min-time", 3*time.Second, "minimum time per throughput measurement")
	fs.IntVar(&f.goImages, "go-images", 2, "images through the pure-Go GoMLX engine (0 skips)")
	fs.IntVar(&f.latRuns, "latency-runs", 200, "single-image runs for the latency percentiles (-1 skips)")
	fs.BoolVar(&f.settings, "settings", true, "sweep ONNX Runtime settings")
	fs.StringVar(&f.python, "python", "/usr/bin/python3", "Python with torch and PIL for the PyTorch column and the default models (\"\" skips PyTorch)")
	fs.StringVar(&f.torchScript, "torch-script", "scripts/bench_e2e_torch.py", "PyTorch end-to-end script")
	fs.StringVar(&f.exportScript, "export-script", "scripts/bench_engines.py", "script exporting the default ResNet-18 and MobileNetV2")
	fs.StringVar(&f.ortLib, "ort-lib", "", "ONNX Runtime library (default: search)")
	fs.BoolVar(&f.jsonOut, "json", false, "print the report as JSON")
	c.RunE = func(c *cobra.Command, args []string) error { return runBenchE2E(c.Context(), e, f) }
	return c
}

// runBenchE2E prints the end-to-end benchmark table (see package bench).
func runBenchE2E(ctx context.Context, e *env, f benchE2EFlags) error {
	if f.n < 1 || f.batch < 1 || f.batch > 1024 {
		return usageErrorf("--n and --batch-size must be positive (batch <= 1024)")
	}
	paths, err := filepath.Glob(filepath.Join(f.images, "*.jp*g"))
	if err != nil || len(paths) == 0 {
		return badInput(fmt.Errorf("--images %s: no JPEG files", f.images))
	}
	slices.Sort(paths)
	opt := bench.Options{Images: paths, MaxImages: f.n, Batch: f.batch, Threads: f.threads, Workers: f.workers,
		Spin: f.spin, MinTime: f.minTime, ORTLib: f.ortLib, GoImages: f.goImages, LatencyRuns: f.latRuns,
		Settings: f.settings, Python: f.python, TorchScript: f.torchScript, Log: e.stderr}
	if f.python != "" {
		if _, err := os.Stat(f.torchScript); err != nil {
			return badInput(fmt.Errorf("--torch-script: %w", err))
		}
	}
	for _, m := range f.models {
		name, path, ok := strings.Cut(m, "=")
		if !ok || name == "" || path == "" {
			return usageErrorf("--model %q: want NAME=FILE.onnx", m)
		}
		opt.Models = append(opt.Models, bench.Model{Name: name, Path: path, TorchName: torchName(name)})
	}
	if len(f.models) == 0 {
		if f.python == "" {
			return usageErrorf("the default models are exported with --python; give --model NAME=FILE instead")
		}
		tmp, err := os.MkdirTemp("", "multilabel-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		cmd := exec.CommandContext(ctx, f.python, f.exportScript, "export", tmp)
		cmd.Stderr = e.stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("exporting the default models with %s %s: %w", f.python, f.exportScript, err)
		}
		opt.Models = []bench.Model{
			{Name: "resnet18", Path: filepath.Join(tmp, "resnet18.onnx"), TorchName: "resnet18"},
			{Name: "mobilenetv2", Path: filepath.Join(tmp, "mobilenetv2.onnx"), TorchName: "mobilenetv2"},
		}
		if _, err := os.Stat(f.squeeze); err == nil {
			opt.Models = append(opt.Models, bench.Model{Name: "squeezenet1.1", Path: f.squeeze, TorchName: "squeezenet1.1"})
		} else {
			fmt.Fprintf(e.stderr, "note: %s not found, SqueezeNet skipped\n", f.squeeze)
		}
	}
	rep, err := bench.Run(ctx, opt)
	if err != nil {
		return err
	}
	if f.jsonOut {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteTable(e.stdout)
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
