package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/finetune"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/pipeline"
	"github.com/multilabel/multilabel/train"
)

// modelStdout is where train, predict and eval --model write their results (tests
// replace it).
var modelStdout io.Writer = os.Stdout

func init() {
	register(&command{name: "train", summary: "train a multi-label head on backbone features and write a .mlb bundle", run: runTrain})
}

func runTrain(ctx context.Context, args []string) error {
	fs := newFlags("train", "--data D [--images DIR] --backbone FILE|ZOO-NAME --out M.mlb [flags]")
	def := train.DefaultConfig()
	data := fs.String("data", "", "label file: CSV (list or one-hot), COCO instances JSON or VOC root")
	images := fs.String("images", "", "directory the label file's image names are relative to (default: the format's)")
	bbFlag := fs.String("backbone", "", "ONNX backbone file, a directory holding one, or a zoo name")
	featureNode := fs.String("feature-node", "", "graph value to take features from (default: found automatically)")
	out := fs.String("out", "", "model bundle to write (.mlb)")
	lossFlag := fs.String("loss", def.Loss, "loss: bce|weighted|focal|asl")
	headFlag := fs.String("head", def.Head, "head: linear|mlp")
	hidden := fs.Int("hidden", def.Hidden, "MLP hidden width")
	dropout := fs.Float64("dropout", def.Dropout, "MLP dropout rate")
	epochs := fs.Int("epochs", def.Epochs, "training epochs")
	batch := fs.Int("batch-size", def.BatchSize, "training batch size")
	lr := fs.Float64("lr", def.LR, "peak learning rate")
	wd := fs.Float64("weight-decay", def.WeightDecay, "AdamW weight decay")
	patience := fs.Int("patience", def.Patience, "stop after this many epochs without validation mAP gain (0: never)")
	schedule := fs.String("schedule", def.Schedule, "learning-rate schedule: cosine|onecycle|constant")
	val := fs.String("val", "", "validation label file (default: a stratified share of the training data)")
	test := fs.String("test", "", "test label file (default: a stratified share of --data)")
	split := fs.String("split", "0.8,0.2", "train,test ratios when --test is absent (a validation share of the train part is held out unless --val); or train,val,test")
	valFrac := fs.Float64("val-fraction", pipeline.DefaultValFraction, "share of the train part used for validation when --val is absent")
	reportDir := fs.String("report", "", "write a report (metrics, history, thresholds) into this directory")
	seed := fs.Uint64("seed", 1, "seed of the split, the head initialisation and the shuffling")
	engineKind := fs.String("engine", "auto", "feature engine: auto|ort|go")
	ortLib := fs.String("ort-lib", "", "path of libonnxruntime.so (default: $ONNXRUNTIME_LIB or the install place)")
	threads := fs.Int("threads", 0, "engine threads (0: all cores)")
	cacheDir := fs.String("cache-dir", "", "feature cache directory (default: the user cache)")
	noCache := fs.Bool("no-cache", false, "do not read or write the feature cache")
	checkpoint := fs.String("checkpoint", "", "write a training checkpoint to this file after every epoch")
	resume := fs.Bool("resume", false, "resume from --checkpoint when it exists")
	randomBB := fs.Bool("random-backbone", false, "replace the backbone's weights by a seeded random initialisation (transfer-gap baseline)")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	quiet := fs.Bool("quiet", false, "no progress bars")
	ftDef := finetune.DefaultConfig()
	unfreeze := fs.String("unfreeze", "", "after training the head on frozen features, fine-tune the backbone's last K blocks (or all) with it (blocks: see finetune docs / backbone.Blocks)")
	ftEpochs := fs.Int("ft-epochs", ftDef.Epochs, "fine-tuning epochs (with --unfreeze)")
	ftBatch := fs.Int("ft-batch-size", ftDef.BatchSize, "fine-tuning batch size")
	ftLR := fs.Float64("ft-lr", ftDef.LR, "fine-tuning peak learning rate of the head")
	tailFactor := fs.Float64("tail-lr-factor", ftDef.TailFactor, "fine-tuning learning rate of the unfrozen blocks = --ft-lr × this (discriminative learning rates)")
	ftWarmup := fs.Float64("ft-warmup", ftDef.WarmupEpochs, "fine-tuning warmup, in epochs (then cosine decay)")
	trainBN := fs.Bool("train-bn", false, "fine-tuning: normalise with batch statistics and update the running ones (default: batch norms frozen)")
	augment := fs.Bool("augment", false, "fine-tuning: train on augmented views (random resized crop, flip, colour jitter) computed on the fly")
	views := fs.Int("views", 1, "fine-tuning with --augment: augmented views of each image per epoch")
	backendFlag := fs.String("backend", "auto", "GoMLX backend for fine-tuning: auto|go|xla (auto: XLA when a PJRT plugin is installed, else pure Go)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	if *data == "" || *bbFlag == "" {
		return usageErrorf("--data and --backbone are required")
	}
	if *out == "" && *reportDir == "" && !*jsonOut {
		return usageErrorf("--out is required (or --report / --json to only measure)")
	}
	kind, err := auto.ParseKind(*engineKind)
	if err != nil {
		return usageErrorf("--engine: %v", err)
	}
	ratios, err := parseRatios(*split)
	if err != nil {
		return usageErrorf("--split: %v", err)
	}
	tc := def
	tc.Loss, tc.Head, tc.Hidden, tc.Dropout = *lossFlag, *headFlag, *hidden, *dropout
	tc.Epochs, tc.BatchSize, tc.LR, tc.WeightDecay, tc.Patience, tc.Schedule = *epochs, *batch, *lr, *wd, *patience, *schedule
	tc.Checkpoint, tc.Resume = *checkpoint, *resume
	if err := tc.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	cfg := pipeline.TrainConfig{
		Data: *data, Images: *images, Val: *val, Test: *test, Split: ratios, ValFraction: *valFrac,
		Backbone: *bbFlag, FeatureNode: *featureNode, RandomBackbone: *randomBB, Out: *out,
		Engine: kind, ORTLib: *ortLib, Threads: *threads, CacheDir: *cacheDir, NoCache: *noCache,
		Train: tc, Seed: *seed,
	}
	if !*quiet {
		cfg.Progress = os.Stderr
	}
	if *unfreeze != "" {
		ft := finetune.Config{Unfreeze: *unfreeze, Epochs: *ftEpochs, BatchSize: *ftBatch, LR: *ftLR, TailFactor: *tailFactor,
			WarmupEpochs: *ftWarmup, WeightDecay: *wd, ClipNorm: ftDef.ClipNorm, Loss: *lossFlag, TrainBN: *trainBN,
			Views: *views, Backend: *backendFlag}
		if *augment {
			a := imageio.DefaultAugment()
			ft.Augment = &a
		}
		if *checkpoint != "" {
			ft.Checkpoint, ft.Resume = *checkpoint+".finetune", *resume
		}
		if err := ft.Validate(); err != nil {
			return usageErrorf("%v", err)
		}
		return runFineTune(ctx, cfg, ft, *reportDir, *jsonOut)
	}
	res, err := pipeline.Train(ctx, cfg)
	if err != nil {
		if model.IsBadInput(err) {
			return badInput(err)
		}
		return err
	}
	if *reportDir != "" {
		if err := writeTrainReport(*reportDir, res); err != nil {
			return err
		}
	}
	return printTrainResult(modelStdout, res, cfg, *jsonOut)
}

func parseRatios(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(v >= 0) {
			return nil, fmt.Errorf("%q: want comma-separated non-negative numbers", s)
		}
		out = append(out, v)
	}
	if len(out) != 2 && len(out) != 3 {
		return nil, errors.New("want 2 (train,test) or 3 (train,val,test) ratios")
	}
	return out, nil
}

// trainSummary is the --json output of train.
type trainSummary struct {
	Bundle     string             `json:"bundle,omitempty"`
	ID         string             `json:"id,omitempty"`
	Engine     string             `json:"engine"`
	Splits     pipeline.SplitInfo `json:"splits"`
	BadImages  int                `json:"bad_images"`
	BestEpoch  int                `json:"best_epoch"`
	Epochs     int                `json:"epochs_run"`
	Thresholds []float64          `json:"thresholds"`
	Val        *metric.Result     `json:"val,omitempty"`
	Test       *metric.Result     `json:"test,omitempty"`
	Seconds    map[string]float64 `json:"seconds"`
	CacheHits  int                `json:"cache_hits"`
}

func printTrainResult(w io.Writer, res *pipeline.TrainResult, cfg pipeline.TrainConfig, asJSON bool) error {
	if asJSON {
		s := trainSummary{Bundle: cfg.Out, Engine: res.Engine, Splits: res.Splits, BadImages: len(res.BadImages),
			BestEpoch: res.Fit.BestEpoch, Epochs: len(res.Fit.History), Thresholds: res.Bundle.Thresholds,
			Val: res.Val, Test: res.Test, CacheHits: res.CacheHits,
			Seconds: map[string]float64{"features": res.FeatureSeconds, "train": res.TrainSeconds}}
		if cfg.Out != "" {
			s.ID = res.Bundle.ID
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	fmt.Fprintf(w, "data: %d train, %d val, %d test images (%s split); %d unusable image(s) skipped\n",
		res.Splits.Train, res.Splits.Val, res.Splits.Test, res.Splits.How, len(res.BadImages))
	fmt.Fprintf(w, "features: %s, %.1fs (%d cached); head: %s + %s, best epoch %d of %d, %.1fs\n",
		res.Engine, res.FeatureSeconds, res.CacheHits, res.Fit.Config.Head, res.Fit.Config.Loss,
		res.Fit.BestEpoch, len(res.Fit.History), res.TrainSeconds)
	for _, part := range []struct {
		name string
		r    *metric.Result
	}{{"validation", res.Val}, {"test", res.Test}} {
		if part.r == nil {
			continue
		}
		fmt.Fprintf(w, "\n%s (per-class thresholds tuned on validation):\n", part.name)
		if err := metric.WriteTable(w, part.r); err != nil {
			return err
		}
	}
	if cfg.Out != "" {
		fmt.Fprintf(w, "\nwrote %s (id %.12s)\n", cfg.Out, res.Bundle.ID)
	}
	return nil
}

// writeTrainReport writes the training report into dir.
func writeTrainReport(dir string, res *pipeline.TrainResult) error {
	if err := res.WriteReportFiles(dir); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "report written to %s\n", dir)
	return nil
}

// runFineTune is train --unfreeze: the head on frozen features, then the last blocks
// with it (pipeline.FineTune); it prints the fine-tuned result and the comparison.
func runFineTune(ctx context.Context, cfg pipeline.TrainConfig, ft finetune.Config, reportDir string, asJSON bool) error {
	r, err := pipeline.FineTune(ctx, cfg, ft)
	if err != nil {
		if model.IsBadInput(err) || errors.Is(err, finetune.ErrBadCut) {
			return badInput(err)
		}
		return err
	}
	res := r.AsTrainResult()
	if reportDir != "" {
		if err := writeTrainReport(reportDir, res); err != nil {
			return err
		}
	}
	f := r.FineTune
	var perEpoch float64
	for _, e := range f.History[1:] {
		perEpoch += e.Seconds / float64(len(f.History)-1)
	}
	probeMAP, ftMAP := 0.0, 0.0
	if r.Probe.Test != nil && r.Test != nil {
		probeMAP, ftMAP = r.Probe.Test.MAP, r.Test.MAP
	}
	if asJSON {
		var buf strings.Builder
		if err := printTrainResult(&buf, res, cfg, true); err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(buf.String()), &m); err != nil {
			return err
		}
		m["fine_tune"] = f
		m["probe_test"] = r.Probe.Test
		m["seconds_per_epoch"] = perEpoch
		enc := json.NewEncoder(modelStdout)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}
	if err := printTrainResult(modelStdout, res, cfg, false); err != nil {
		return err
	}
	fmt.Fprintf(modelStdout, "\nfine-tuned from block %s (cut %s): %d backbone + %d head trainable parameters, %d epochs at %.1fs each (backend %s, prefix on %s), best epoch %d\n",
		f.Block, f.Cut, f.TailParams, f.HeadParams, len(f.History)-1, perEpoch, f.Backend, f.Engine, f.BestEpoch)
	if r.Probe.Test != nil && r.Test != nil {
		fmt.Fprintf(modelStdout, "test mAP: head on frozen features %.4f, fine-tuned %.4f\n", probeMAP, ftMAP)
	}
	return nil
}
