package finetune

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/internal/backends"
	"github.com/multilabel/multilabel/internal/benchdata"
	"github.com/multilabel/multilabel/internal/memstat"
	"github.com/multilabel/multilabel/loss"
	"github.com/multilabel/multilabel/train"
)

// Rows of BenchTrain.
const (
	BenchSqueezeTail  = "squeezenet1.1 last block (fire9, b32)"
	BenchSqueezeWhole = "squeezenet1.1 whole (224x224, b32)"
	// The ResNet-18 and MobileNetV2 rows train the whole network with batch-norm batch
	// statistics, on random-weight exports (MakeBenchModels).
	BenchResNet18Whole    = "resnet18 whole (224x224, b32)"
	BenchMobileNetV2Whole = "mobilenet_v2 whole (224x224, b32)"
	BenchHeadLinear       = "linear head (512-d features, b64)"
	BenchHeadMLP          = "mlp head (512-d features, b64)"
	// BackendTorch is the Backend of PyTorch's rows.
	BackendTorch = "torch"
)

// BenchRow is one measurement of BenchTrain: training images (or feature rows) per
// second of one workload on one backend, and its ratio to PyTorch's on the same
// workload in the same run (0 when PyTorch was not measured).
type BenchRow struct {
	Name         string  `json:"name"`
	Backend      string  `json:"backend"`
	ImagesPerS   float64 `json:"images_per_s"`
	RatioVsTorch float64 `json:"ratio_vs_torch"`
	// PeakRSSMB is the process's peak resident memory during the row, in MiB: for a
	// GoMLX backend this process's, its peak reset before the row (Linux; 0 where no
	// figure is available), for PyTorch the peer process's (torch itself included).
	PeakRSSMB float64 `json:"peak_rss_mb,omitempty"`
}

// BenchOptions configure BenchTrain.
type BenchOptions struct {
	// SqueezeNet is the SqueezeNet 1.1 ONNX file (the SqueezeNet rows are left out when "").
	SqueezeNet string
	// Models is the folder with the random-weight resnet18.onnx and mobilenet_v2.onnx
	// (default BenchModelsDir()); they are generated there (MakeBenchModels) when
	// missing and Python has torch, else their rows are skipped.
	Models string
	// Backends to measure (default: every available one among onnx, xla and go; with
	// the default, pure Go is left out of the ResNet-18 and MobileNetV2 rows, where a
	// step takes minutes).
	Backends []string
	// Rows to measure (default: all six).
	Rows []string
	// Seconds is the minimum measuring time of a row after its warm-up step
	// (default 3); at least MinSteps steps are timed (default 2).
	Seconds  float64
	MinSteps int
	// HeadEpochs is the number of epochs of the head rows (default 20; 1,200 rows).
	HeadEpochs int
	// Python runs the PyTorch peers (default /usr/bin/python3); NoTorch skips them.
	Python  string
	NoTorch bool
	// Scripts is the folder with bench_finetune.py and bench_head.py (default: the
	// module's scripts/ when found from the working directory).
	Scripts string
	// ORTLib is the ONNX Runtime library ("" searches the usual places).
	ORTLib string
	Logger *slog.Logger
}

// BenchTrain measures training speed (images/s) in one run, for each backend and for
// PyTorch (when its python has torch): AdamW steps of SqueezeNet 1.1's last block on
// cached activations and of the whole network on 224×224 images, of the whole
// ResNet-18 and MobileNetV2 (batch statistics in their batch norms; random weights)
// (linear head, BCE, 5 labels, random inputs), and linear and MLP head training on
// cached 512-d features.
// It is the library behind `multilabel bench train`.
func BenchTrain(ctx context.Context, opt BenchOptions) ([]BenchRow, error) {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	if opt.Seconds <= 0 {
		opt.Seconds = 3
	}
	if opt.MinSteps <= 0 {
		opt.MinSteps = 2
	}
	if opt.HeadEpochs <= 0 {
		opt.HeadEpochs = 20
	}
	rows := opt.Rows
	if len(rows) == 0 {
		rows = []string{BenchSqueezeTail, BenchSqueezeWhole, BenchResNet18Whole, BenchMobileNetV2Whole, BenchHeadLinear, BenchHeadMLP}
	}
	if opt.Models == "" {
		opt.Models = BenchModelsDir()
	}
	archOK := true
	for _, r := range rows {
		if archOf(r) != "" {
			if err := MakeBenchModels(ctx, opt.Python, opt.Scripts, opt.Models); err != nil {
				log.Info("bench train: ResNet-18 / MobileNetV2 rows skipped", "err", err)
				archOK = false
			}
			break
		}
	}
	bes := opt.Backends
	if len(bes) == 0 {
		bes = []string{backends.ONNX, backends.XLA, backends.Go}
	}
	type be struct {
		kind string
		b    compute.Backend
	}
	var use []be
	for _, name := range bes {
		c, err := backends.Select(name, backends.Options{ORTLib: opt.ORTLib, Logger: log})
		if err != nil {
			if len(opt.Backends) > 0 {
				return nil, fmt.Errorf("finetune: bench: %w", err)
			}
			log.Info("bench train: backend not available", "backend", name, "err", err)
			continue
		}
		use = append(use, be{c.Kind, c.Backend})
	}
	var out []BenchRow
	torch := map[string]torchRow{}
	torchOK := !opt.NoTorch
	for _, r := range rows {
		if (r == BenchSqueezeTail || r == BenchSqueezeWhole) && opt.SqueezeNet == "" {
			log.Info("bench train: no SqueezeNet model given, row skipped", "row", r)
			continue
		}
		if archOf(r) != "" && !archOK {
			continue
		}
		if torchOK {
			// Row by row, right before the Go measurements: the machine's load changes.
			t, err := benchTorch(ctx, opt, []string{r})
			if err != nil {
				log.Warn("bench train: PyTorch peer not measured", "err", err)
				torchOK = false
			}
			torch[r] = t[r]
		}
		for _, b := range use {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			if archOf(r) != "" && b.kind == backends.Go && len(opt.Backends) == 0 {
				log.Info("bench train: pure Go left out of this row (minutes a step; ask --backends go)", "row", r)
				continue
			}
			memstat.ResetPeak()
			v, err := benchRow(ctx, r, b.kind, b.b, opt)
			if err != nil {
				return out, fmt.Errorf("finetune: bench %q on %s: %w", r, b.kind, err)
			}
			row := BenchRow{Name: r, Backend: b.kind, ImagesPerS: v, PeakRSSMB: memstat.PeakRSSMB()}
			if t := torch[r].ips; t > 0 {
				row.RatioVsTorch = v / t
			}
			log.Info("bench train", "row", r, "backend", b.kind, "images_per_s", v, "ratio_vs_torch", row.RatioVsTorch, "peak_rss_mb", row.PeakRSSMB)
			out = append(out, row)
		}
		if t := torch[r]; t.ips > 0 {
			out = append(out, BenchRow{Name: r, Backend: BackendTorch, ImagesPerS: t.ips, RatioVsTorch: 1, PeakRSSMB: t.rssMB})
		}
	}
	return out, nil
}

// archOf returns the architecture of a ResNet-18 or MobileNetV2 row ("" for others).
func archOf(row string) string {
	switch row {
	case BenchResNet18Whole:
		return ArchResNet18
	case BenchMobileNetV2Whole:
		return ArchMobileNetV2
	}
	return ""
}

func benchRow(ctx context.Context, row, kind string, b compute.Backend, opt BenchOptions) (float64, error) {
	switch row {
	case BenchSqueezeTail, BenchSqueezeWhole, BenchResNet18Whole, BenchMobileNetV2Whole:
		model, u, trainBN := opt.SqueezeNet, "1", false
		if row != BenchSqueezeTail {
			u = "all"
		}
		if a := archOf(row); a != "" {
			model, trainBN = BenchModel(opt.Models, a, ""), true
		}
		st, err := newModelStep(model, u, 32, b, trainBN)
		if err != nil {
			return 0, err
		}
		defer st.close()
		if err := st.step(); err != nil { // compile and warm up
			return 0, err
		}
		n, t0 := 0, time.Now()
		for n < opt.MinSteps || time.Since(t0).Seconds() < opt.Seconds {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			if err := st.step(); err != nil {
				return 0, err
			}
			n++
		}
		return float64(n*st.batch) / time.Since(t0).Seconds(), nil
	case BenchHeadLinear, BenchHeadMLP:
		x, y := benchdata.Heads()
		cfg := train.DefaultConfig()
		cfg.Head = head.Linear
		if row == BenchHeadMLP {
			cfg.Head = head.MLP
		}
		cfg.Epochs, cfg.BatchSize, cfg.Patience = opt.HeadEpochs, 64, 0
		cfg.Backend, cfg.ORTLib = kind, opt.ORTLib
		t0 := time.Now()
		if _, err := train.Fit(ctx, cfg, x, y, nil, nil, 512, train.Callbacks{}); err != nil {
			return 0, err
		}
		return float64(len(y)*cfg.Epochs) / time.Since(t0).Seconds(), nil
	}
	return 0, fmt.Errorf("unknown row %q", row)
}

// squeezeStep runs AdamW training steps of a model's tail from --unfreeze u (SqueezeNet
// 1.1, ResNet-18, MobileNetV2) plus a linear head (5 labels) on random activations of
// the cut.
type squeezeStep struct {
	net     *Net
	st      *State
	x, y, m []float32
	batch   int
	tailP   int64
}

func (s *squeezeStep) step() error {
	_, err := s.net.Step(s.st, s.x, s.y, s.m, []float32{1, 1, 1, 1, 1}, s.batch, 1e-4, 1e-3)
	return err
}

func (s *squeezeStep) close() { s.net.Close() }

func newModelStep(model, u string, b int, be compute.Backend, trainBN bool) (*squeezeStep, error) {
	bb, err := backbone.Load(model, backbone.Options{})
	if err != nil {
		return nil, err
	}
	fm, err := bb.FeatureModel()
	if err != nil {
		return nil, err
	}
	spec := bb.Spec
	fb, err := backbone.LoadBytes(fm, "features", backbone.Options{FeatureNode: backbone.FeatureOutput, Spec: &spec})
	if err != nil {
		return nil, err
	}
	blk, err := CutFor(fb.Blocks(), u)
	if err != nil {
		return nil, err
	}
	shape := fb.TensorShape(blk.Cut)[1:]
	sp, err := SplitModel(fm, blk.Cut, shape)
	if err != nil {
		return nil, err
	}
	h, err := head.New(head.Linear, fb.FeatureDim, 0, 5, 1)
	if err != nil {
		return nil, err
	}
	net, err := NewNet(be, sp, *h, NetOptions{Batch: b, Loss: loss.Defaults(loss.BCE), ClipNorm: 5, WeightDecay: 1e-4, Shape: fb.TensorShape, TrainBN: trainBN})
	if err != nil {
		return nil, err
	}
	per := 1
	for _, d := range shape {
		per *= int(d)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	s := &squeezeStep{net: net, st: net.InitState(), x: make([]float32, b*per), y: make([]float32, b*5), m: make([]float32, b*5), batch: b}
	for i := range s.x {
		s.x[i] = rng.Float32() * 2
	}
	for i := range s.y {
		s.y[i], s.m[i] = float32(rng.IntN(2)), 1
	}
	s.tailP, _ = net.NumParams()
	return s, nil
}

// torchRow is a PyTorch peer's measurement: images/s and the peer's peak RSS (MiB).
type torchRow struct{ ips, rssMB float64 }

// peakField reads the "peak_rss_mb=V" field of a peer's output line (0 when absent).
func peakField(fields []string) float64 {
	for _, f := range fields {
		if s, ok := strings.CutPrefix(f, "peak_rss_mb="); ok {
			if v, err := strconv.ParseFloat(s, 64); err == nil && v > 0 {
				return v
			}
		}
	}
	return 0
}

// benchTorch runs the PyTorch peers and returns images/s and peak RSS per row.
func benchTorch(ctx context.Context, opt BenchOptions, rows []string) (map[string]torchRow, error) {
	py := opt.Python
	if py == "" {
		py = "/usr/bin/python3"
	}
	dir := opt.Scripts
	if dir == "" {
		dir = findScripts()
	}
	if dir == "" {
		return nil, errors.New("scripts/bench_finetune.py not found (set BenchOptions.Scripts)")
	}
	if err := exec.CommandContext(ctx, py, "-c", "import torch").Run(); err != nil {
		return nil, fmt.Errorf("%s has no torch: %w", py, err)
	}
	res := map[string]torchRow{}
	var modes []string
	for _, r := range rows {
		switch r {
		case BenchSqueezeTail:
			modes = append(modes, "tail")
		case BenchSqueezeWhole:
			modes = append(modes, "whole")
		case BenchResNet18Whole, BenchMobileNetV2Whole:
			modes = append(modes, archOf(r))
		}
	}
	if len(modes) > 0 {
		out, err := exec.CommandContext(ctx, py, filepath.Join(dir, "bench_finetune.py"), "--modes", strings.Join(modes, ","),
			"--whole-batch", "32", "--threads", strconv.Itoa(runtime.NumCPU()), "--seconds", strconv.FormatFloat(opt.Seconds, 'f', -1, 64)).Output()
		if err != nil {
			return nil, fmt.Errorf("bench_finetune.py: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 3 || f[0] != "torch" {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimPrefix(f[2], "images_per_s="), 64)
			if err != nil {
				continue
			}
			res[map[string]string{"tail": BenchSqueezeTail, "whole": BenchSqueezeWhole, ArchResNet18: BenchResNet18Whole,
				ArchMobileNetV2: BenchMobileNetV2Whole}[f[1]]] = torchRow{v, peakField(f)}
		}
	}
	for _, r := range rows {
		kind := map[string]string{BenchHeadLinear: "linear", BenchHeadMLP: "mlp"}[r]
		if kind == "" {
			continue
		}
		out, err := exec.CommandContext(ctx, py, filepath.Join(dir, "bench_head.py"), "--head", kind, "--epochs", strconv.Itoa(opt.HeadEpochs),
			"--threads", strconv.Itoa(runtime.NumCPU())).Output()
		if err != nil {
			return nil, fmt.Errorf("bench_head.py: %w", err)
		}
		fields := strings.Fields(string(out))
		for _, f := range fields {
			if s, ok := strings.CutPrefix(f, "wall_s="); ok {
				if v, err := strconv.ParseFloat(s, 64); err == nil && v > 0 {
					res[r] = torchRow{float64(1200*opt.HeadEpochs) / v, peakField(fields)}
				}
			}
		}
	}
	return res, nil
}

// findScripts looks for scripts/bench_finetune.py from the working directory upwards.
func findScripts() string {
	d, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(d, "scripts")
		if _, err := os.Stat(filepath.Join(p, "bench_finetune.py")); err == nil {
			return p
		}
		up := filepath.Dir(d)
		if up == d {
			return ""
		}
		d = up
	}
}
