package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/finetune"
	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/pipeline"
	"github.com/multilabel/multilabel/train"
)

// ScratchLabel describes the "scratch" row of a real-data run: training a whole real
// backbone from random weights is out of reach in pure Go, so the same architecture is
// randomly initialised (backbone.RandomizeONNX) and only its last block and the head are
// trained, exactly as the fine-tuned row trains them on the pretrained weights.
const ScratchLabel = "scratch (random weights, last block + head trained)"

// RealConfig sets a real-data run of the three-way comparison (RunReal).
type RealConfig struct {
	// Data is the label source (CSV, COCO JSON, VOC root; see dataset.Load); Images the
	// directory image references are resolved against ("" = the format's default).
	Data, Images string
	// Backbone is an ONNX file, a directory holding one, or a zoo name.
	Backbone string
	// Methods to run, a subset of Methods (nil: all three).
	Methods []string
	// Limit, when > 0, keeps a label-stratified, seeded subset of this many images.
	Limit int
	// FineTuneEpochs is the number of epochs the last block and the head are trained
	// (scratch and fine-tune); 0 takes finetune.DefaultConfig's.
	FineTuneEpochs int
	// Seed drives the split (the same as `multilabel train --seed`), the head
	// initialisations, the random weights of the scratch row and the shuffling.
	Seed uint64
	// RareLabels is how many of the rarest labels the table details (0: 4, at most half
	// the vocabulary).
	RareLabels int
	// OutDir receives the report, the best model's bundle and results.json ("" writes
	// nothing).
	OutDir string
	// Engine ("auto", "ort", "go"), ORTLib and Threads configure feature extraction.
	Engine, ORTLib string
	Threads        int
	// CacheDir is the feature cache ("" = featcache.DefaultDir()).
	CacheDir string
	// Log receives progress lines (nil: slog.Default()); Progress, when set, shows
	// progress bars.
	Log      *slog.Logger
	Progress io.Writer
}

// QuickReal is the configuration of `multilabel demo --data D --quick`: one epoch of
// fine-tuning per trained block (a few minutes on MIML scenes with ONNX Runtime).
func QuickReal() RealConfig {
	return RealConfig{FineTuneEpochs: 1, Seed: 1, Engine: "auto"}
}

// DefaultReal is the configuration of `multilabel demo --data D`.
func DefaultReal() RealConfig {
	return RealConfig{FineTuneEpochs: 3, Seed: 1, Engine: "auto"}
}

// ErrBadConfig is wrapped by RunReal errors caused by the configuration or the user's
// files (use errkind.IsBadInput too for data and backbone errors).
var ErrBadConfig = errors.New("bad demo configuration")

// CheckMethods validates a method list against Methods and returns it in table order
// (nil or empty: all of them).
func CheckMethods(methods []string) ([]string, error) {
	if len(methods) == 0 {
		return append([]string(nil), Methods...), nil
	}
	want := map[string]bool{}
	for _, m := range methods {
		m = strings.TrimSpace(m)
		known := false
		for _, k := range Methods {
			known = known || k == m
		}
		if !known {
			return nil, fmt.Errorf("%w: unknown method %q (want %s)", ErrBadConfig, m, strings.Join(Methods, ", "))
		}
		want[m] = true
	}
	var out []string
	for _, k := range Methods {
		if want[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// RunReal runs the demo's comparison on a real data set: the linear probe on
// pretrained features (pipeline.Train), the pretrained backbone's last block fine-tuned
// with the head (pipeline.FineTune, unfreeze 1) and the same with random weights
// (ScratchLabel), each with BCE and with the asymmetric loss, on the seeded split of
// `multilabel train` (80/20, a validation share of the train part held out). The
// figures are test metrics at thresholds tuned on the validation set.
func RunReal(ctx context.Context, cfg RealConfig) (*Result, error) {
	start := time.Now()
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	if cfg.Data == "" || cfg.Backbone == "" {
		return nil, fmt.Errorf("%w: real-data demo needs a data set and a backbone", ErrBadConfig)
	}
	methods, err := CheckMethods(cfg.Methods)
	if err != nil {
		return nil, err
	}
	if cfg.Limit < 0 {
		return nil, fmt.Errorf("%w: limit %d must be >= 0", ErrBadConfig, cfg.Limit)
	}
	if cfg.Engine == "" {
		cfg.Engine = "auto"
	}
	tmp, err := os.MkdirTemp("", "multilabel-demo-real-")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(tmp)

	all, err := dataset.Load(cfg.Data, dataset.Options{ImagesDir: cfg.Images})
	if err != nil {
		return nil, err
	}
	dataPath := cfg.Data
	if total := len(all.Samples); cfg.Limit > 0 && cfg.Limit < total {
		f := float64(cfg.Limit) / float64(len(all.Samples))
		idx, err := dataset.IterativeStratify(all, []float64{f, 1 - f}, cfg.Seed)
		if err != nil {
			return nil, fmt.Errorf("demo: --limit: %w", err)
		}
		all = all.Subset(idx[0])
		for i := range all.Samples { // absolute paths: the subset's CSV stands alone
			p, err := filepath.Abs(all.Samples[i].Path)
			if err != nil {
				return nil, fmt.Errorf("demo: %w", err)
			}
			all.Samples[i].Image = p
		}
		dataPath = filepath.Join(tmp, "subset.csv")
		if err := dataset.WriteCSV(dataPath, all); err != nil {
			return nil, err
		}
		log.Info("demo: stratified subset", "images", len(all.Samples), "of", total)
	}
	res := &Result{Labels: all.Labels, BackboneSource: cfg.Backbone, DataDir: cfg.Data}
	res.TrainCounts = make([]int, len(all.Labels))
	for _, s := range all.Samples {
		for j, v := range s.Truth {
			if v == dataset.Positive {
				res.TrainCounts[j]++
			}
		}
	}
	lo, hi := math.MaxInt, 0
	for _, c := range res.TrainCounts {
		lo, hi = min(lo, c), max(hi, c)
	}
	if lo > 0 {
		res.ImbalanceRatio = float64(hi) / float64(lo)
	}
	k := cfg.RareLabels
	if k <= 0 {
		k = 4
	}
	res.rareIdx = rarest(res.TrainCounts, min(k, max(1, len(all.Labels)/2)))
	for _, j := range res.rareIdx {
		res.RareLabels = append(res.RareLabels, res.Labels[j])
	}

	base := pipeline.TrainConfig{Data: dataPath, Images: cfg.Images, Backbone: cfg.Backbone, Engine: cfg.Engine,
		ORTLib: cfg.ORTLib, Threads: cfg.Threads, CacheDir: cfg.CacheDir, Seed: cfg.Seed, Progress: cfg.Progress,
		Logger: log}
	if dataPath != cfg.Data {
		base.Images = ""
	}
	ft := finetune.DefaultConfig()
	ft.Unfreeze = "1"
	if cfg.FineTuneEpochs > 0 {
		ft.Epochs = cfg.FineTuneEpochs
	}
	// The tail learns at the head's rate: with few epochs the default ×0.1 leaves it
	// nearly where it starts, which would leave the random-weights row untrained.
	ft.TailFactor = 1

	has := map[string]bool{}
	for _, m := range methods {
		has[m] = true
	}
	var scratchPath string
	if has["scratch"] {
		if scratchPath, err = randomBackbone(ctx, cfg, tmp, log); err != nil {
			return nil, err
		}
	}
	bundles := map[*Row]*bundle.Bundle{}
	var rows []*Row
	add := func(method, lossName string, m *metric.Result, b *bundle.Bundle, curve []float64, scores [][]float32,
		truth [][]int8, paths []string, secs float64) error {
		if m == nil {
			return fmt.Errorf("demo: %s/%s: no test set to evaluate on", method, lossName)
		}
		r := &Row{Method: method, Loss: lossName, MAP: m.MAP, CF1: m.CF1, OF1: m.OF1, Curve: curve, Seconds: secs,
			scores: scores, truth: truth, paths: paths}
		for _, c := range m.PerClass {
			ap := c.AP
			if !c.HasAP {
				ap = math.NaN()
			}
			r.PerClassAP = append(r.PerClassAP, ap)
		}
		r.RarePerClass, r.RareAP = res.rareAPs(r.PerClassAP)
		if b != nil {
			r.thresholds = b.Thresholds
		}
		rows = append(rows, r)
		bundles[r] = b
		log.Info("demo: trained", "method", method, "loss", lossName, "mAP", fmt.Sprintf("%.3f", r.MAP),
			"rare_AP", fmt.Sprintf("%.3f", r.RareAP), "seconds", fmt.Sprintf("%.1f", secs))
		return nil
	}
	probeCurve := func(f *train.Result) []float64 {
		var c []float64
		for _, e := range f.History {
			c = append(c, e.TrainLoss)
		}
		return c
	}
	ftCurve := func(r *finetune.Result) []float64 {
		var c []float64
		for _, e := range r.History {
			c = append(c, e.TrainLoss)
		}
		return c
	}
	for _, ln := range Losses {
		tc := base
		tc.Train = train.DefaultConfig()
		tc.Train.Loss = ln
		f := ft
		f.Loss = ln
		switch {
		case has["fine-tune"]:
			t0 := time.Now()
			r, err := pipeline.FineTune(ctx, tc, f)
			if err != nil {
				return nil, fmt.Errorf("demo: fine-tune/%s: %w", ln, err)
			}
			p := r.Probe
			if has["linear-probe"] {
				if err := add("linear-probe", ln, p.Test, p.Bundle, probeCurve(p.Fit), p.Scores, p.Truth, p.TestPaths,
					p.FeatureSeconds+p.TrainSeconds); err != nil {
					return nil, err
				}
			}
			if err := add("fine-tune", ln, r.Test, r.Bundle, ftCurve(r.FineTune), r.Scores, r.Truth, r.TestPaths,
				time.Since(t0).Seconds()); err != nil {
				return nil, err
			}
			res.Engine = p.Engine
			res.TrainImages, res.TestImages = p.Splits.Train, p.Splits.Test
		case has["linear-probe"]:
			p, err := pipeline.Train(ctx, tc)
			if err != nil {
				return nil, fmt.Errorf("demo: linear-probe/%s: %w", ln, err)
			}
			if err := add("linear-probe", ln, p.Test, p.Bundle, probeCurve(p.Fit), p.Scores, p.Truth, p.TestPaths,
				p.FeatureSeconds+p.TrainSeconds); err != nil {
				return nil, err
			}
			res.Engine = p.Engine
			res.TrainImages, res.TestImages = p.Splits.Train, p.Splits.Test
		}
		if has["scratch"] {
			sc := tc
			sc.Backbone = scratchPath
			t0 := time.Now()
			r, err := pipeline.FineTune(ctx, sc, f)
			if err != nil {
				return nil, fmt.Errorf("demo: scratch/%s: %w", ln, err)
			}
			b := r.Bundle
			b.BackboneInfo.Name = cfg.Backbone + " (random init)"
			b.BackboneInfo.Randomized, b.BackboneInfo.RandomSeed = true, cfg.Seed
			if err := add("scratch", ln, r.Test, b, ftCurve(r.FineTune), r.Scores, r.Truth, r.TestPaths,
				time.Since(t0).Seconds()); err != nil {
				return nil, err
			}
			if res.Engine == "" {
				res.Engine = r.Probe.Engine
				res.TrainImages, res.TestImages = r.Probe.Splits.Train, r.Probe.Splits.Test
			}
		}
	}
	order := func(r *Row) int {
		for i, m := range Methods {
			if m == r.Method {
				for k, l := range Losses {
					if l == r.Loss {
						return i*len(Losses) + k
					}
				}
			}
		}
		return math.MaxInt
	}
	sort.SliceStable(rows, func(a, b int) bool { return order(rows[a]) < order(rows[b]) })
	for _, r := range rows {
		res.Rows = append(res.Rows, *r)
	}
	res.real = true
	res.Seconds = time.Since(start).Seconds()

	if cfg.OutDir != "" {
		if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		if bi := res.best(); bi >= 0 {
			b := bundles[rows[bi]]
			res.BundlePath = filepath.Join(cfg.OutDir, "demo.mlb")
			if err := b.Save(res.BundlePath); err != nil {
				return nil, fmt.Errorf("demo: bundle: %w", err)
			}
		}
		res.ReportPath = filepath.Join(cfg.OutDir, "report.html")
		page, err := res.HTML()
		if err != nil {
			return nil, fmt.Errorf("demo: report: %w", err)
		}
		if err := writeFile(res.ReportPath, page); err != nil {
			return nil, err
		}
		js, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("demo: results: %w", err)
		}
		if err := writeFile(filepath.Join(cfg.OutDir, "results.json"), js); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// randomBackbone writes the backbone with seeded random weights into dir, with its
// preprocessing as a sidecar, and returns its path.
func randomBackbone(ctx context.Context, cfg RealConfig, dir string, log *slog.Logger) (string, error) {
	src, err := backbone.Resolve(cfg.Backbone, backbone.ZooOptions{Context: ctx, Progress: cfg.Progress})
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	bb, err := backbone.Load(src, backbone.Options{})
	if err != nil {
		return "", err
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("demo: backbone: %w", err)
	}
	rnd, st, err := backbone.RandomizeONNX(raw, cfg.Seed)
	if err != nil {
		return "", fmt.Errorf("demo: backbone %s: %w", src, err)
	}
	out := filepath.Join(dir, "random-"+filepath.Base(src))
	if err := writeFile(out, rnd); err != nil {
		return "", err
	}
	spec, err := json.Marshal(bb.Spec)
	if err != nil {
		return "", fmt.Errorf("demo: backbone spec: %w", err)
	}
	if err := writeFile(out+".json", spec); err != nil {
		return "", err
	}
	log.Info("demo: scratch backbone: weights replaced by a seeded random initialisation", "weights", st.Weights,
		"params", st.Params, "seed", cfg.Seed)
	return out, nil
}
