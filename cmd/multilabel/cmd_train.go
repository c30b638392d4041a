package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/finetune"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/headparams"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/loss"
	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/pipeline"
	"github.com/multilabel/multilabel/train"
)

func newTrainCmd(e *env) *cobra.Command {
	def := train.DefaultConfig()
	ftDef := finetune.DefaultConfig()
	var (
		inputSize                                                                             string
		data, bbFlag, featureNode, out, lossFlag, headFlag, schedule, val, test, split        string
		reportDir, cacheDir, checkpoint, unfreeze, backendFlag, pool, features                string
		queries, featureViews                                                                 string
		attnDim, maxQueries                                                                   int
		rf                                                                                    readerFlags
		pf                                                                                    protocolFlags
		ef                                                                                    engineFlags
		sf                                                                                    samplerFlags
		hidden, epochs, batch, patience, ftEpochs, ftBatch, views, graphHidden                int
		dropout, lr, wd, valFrac, ftLR, tailFactor, ftWarmup, ftEMA, cutout, graphTau, graphP float64
		seed                                                                                  uint64
		noCache, resume, randomBB, jsonOut, trainBN, augment, refit                           bool
		of                                                                                    outputFlags
	)
	c := &cobra.Command{
		Use:   "train --data D [--images DIR] --backbone FILE|ZOO-NAME --out M.mlb [flags]",
		Short: "train a multi-label head on backbone features and write a .mlb bundle",
		Long:  "Train a multi-label head on backbone features and write a .mlb bundle.\n\n" + defaultSplitSentence,
		Args:  noArgs,
	}
	fs := c.Flags()
	fs.StringVar(&data, "data", "", "label file: CSV (list or one-hot), COCO instances JSON or VOC root")
	rf.register(fs, "open every image first and fail at the first unusable one (default: skip and count them)")
	fs.StringVar(&bbFlag, "backbone", "", "ONNX backbone file, a directory holding one, or a zoo name")
	fs.StringVar(&featureNode, "feature-node", "", "graph value to take features from (default: found automatically) (or several, comma-separated, e.g. fire8/concat_1,fire9/concat_1: their [N,C,H,W] maps, of one spatial size, joined along the channels)")
	fs.StringVar(&inputSize, "input-size", "", "resize each whole image (no crop) to WxH (or N for NxN) before the backbone instead of its preprocessing's size (224x224 centre crop for SqueezeNet); the input is rewritten to that size (fully convolutional backbones) and the bundle records it, e.g. 384x256 for MIML's 384x256 images")
	fs.StringVar(&out, "out", "", "model bundle to write (.mlb)")
	fs.StringVar(&features, "features", "", "train from this features output of \"multilabel features\" (or \"features merge\"): F.npy with F.npy.names.txt and F.npy.manifest.json, made with --backbone (checked); rows are joined to --data by image name and the training rows streamed from a memory map, so the images need not be here and the matrix need not fit in memory")
	fs.StringVar(&pool, "pool", backbone.PoolAvg, poolHelp)
	fs.StringVar(&featureViews, "feature-views", "", featureViewsHelp)
	fs.StringVar(&lossFlag, "loss", def.Loss, "loss: "+strings.Join(loss.Kinds, "|"))
	sf.register(fs)
	fs.StringVar(&headFlag, "head", pipeline.HeadAuto, headHelp)
	fs.IntVar(&hidden, "hidden", def.Hidden, "MLP hidden width")
	fs.IntVar(&graphHidden, "graph-hidden", def.GraphHidden, "graph head: width of the learned label embeddings (the graph's node features)")
	fs.Float64Var(&graphTau, "graph-tau", def.GraphTau, "graph head: link label i to j when P(j|i) in the training share >= this, in (0, 1]")
	fs.Float64Var(&graphP, "graph-p", def.GraphP, "graph head: weight a label's neighbours share in its classifier (ML-GCN re-weighting), in (0, 1)")
	fs.Float64Var(&dropout, "dropout", def.Dropout, "dropout rate: the MLP's hidden layer; with --head attention its three dropouts (default there 0.1, as ML-Decoder)")
	fs.IntVar(&attnDim, "attn-dim", defaultAttnDim, attnDimHelp)
	fs.StringVar(&queries, "queries", queriesLearned, "attention head label queries: learned|fixed (fixed: seeded random orthonormal rows kept as initialised)")
	fs.IntVar(&maxQueries, "max-queries", 100, "attention head: at most this many label queries; with more labels each query decodes ⌈labels/queries⌉ of them (group decoding)")
	fs.IntVar(&epochs, "epochs", def.Epochs, "training epochs (--head attention, and the attention candidate of --head auto: 10 unless given)")
	fs.IntVar(&batch, "batch-size", def.BatchSize, "training batch size")
	fs.Float64Var(&lr, "lr", def.LR, "peak learning rate")
	fs.Float64Var(&wd, "weight-decay", def.WeightDecay, "AdamW weight decay")
	fs.IntVar(&patience, "patience", def.Patience, "stop after this many epochs without validation mAP gain (0: never)")
	fs.StringVar(&schedule, "schedule", def.Schedule, "learning-rate schedule: cosine|onecycle|constant")
	fs.StringVar(&val, "val", "", "validation label file (default: a stratified share of the training data)")
	fs.StringVar(&test, "test", "", "test label file (default: a stratified share of --data)")
	fs.StringVar(&split, "split", "0.8,0.2", "train,test ratios when --test is absent (a validation share of the train part is held out unless --val); or train,val,test")
	fs.Float64Var(&valFrac, "val-fraction", pipeline.DefaultValFraction, "share of the train part used for validation when --val is absent")
	pf.register(fs)
	fs.StringVar(&reportDir, "report", "", "write a report (metrics, history, thresholds) into this directory")
	fs.Uint64Var(&seed, "seed", 1, "seed of the split, the head initialisation and the shuffling")
	ef.register(fs, true)
	fs.StringVar(&cacheDir, "cache-dir", "", "feature cache directory (default: the user cache)")
	fs.BoolVar(&noCache, "no-cache", false, "do not read or write the feature cache")
	fs.StringVar(&checkpoint, "checkpoint", "", "write a training checkpoint to this file after every epoch")
	fs.BoolVar(&resume, "resume", false, "resume from --checkpoint when it exists")
	fs.BoolVar(&randomBB, "random-backbone", false, "replace the backbone's weights by a seeded random initialisation (transfer-gap baseline)")
	fs.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	fs.BoolVar(&refit, "refit", false, "after choosing the epochs and thresholds on the validation share, train the final model (head, and with --unfreeze the fine-tuned blocks) on train+validation for the chosen epochs, keep those thresholds, and evaluate it on test")
	of.register(fs)
	fs.StringVar(&unfreeze, "unfreeze", "", "after training the head on frozen features, fine-tune the backbone's last K blocks (or all) with it (blocks: see finetune docs / backbone.Blocks)")
	fs.IntVar(&ftEpochs, "ft-epochs", ftDef.Epochs, "fine-tuning epochs (with --unfreeze)")
	fs.IntVar(&ftBatch, "ft-batch-size", ftDef.BatchSize, "fine-tuning batch size")
	fs.Float64Var(&ftLR, "ft-lr", ftDef.LR, "fine-tuning peak learning rate of the head")
	fs.Float64Var(&tailFactor, "tail-lr-factor", ftDef.TailFactor, "fine-tuning learning rate of the unfrozen blocks = --ft-lr × this (discriminative learning rates)")
	fs.Float64Var(&ftWarmup, "ft-warmup", ftDef.WarmupEpochs, "fine-tuning warmup, in epochs (then cosine decay)")
	fs.Float64Var(&ftEMA, "ft-ema", ftDef.EMA, "fine-tuning: decay of the exponential moving average of the weights, per step (0: off); validation, selection and the saved model use the averaged weights")
	fs.BoolVar(&trainBN, "train-bn", false, "fine-tuning: normalise with batch statistics and update the running ones (default: batch norms frozen)")
	fs.BoolVar(&augment, "augment", false, "fine-tuning: train on augmented views (random resized crop, flip, colour jitter) computed on the fly")
	fs.Float64Var(&cutout, "cutout", 0, "fine-tuning with --augment: also erase one random square of this side (fraction of the shorter side, e.g. 0.25; 0: off)")
	fs.IntVar(&views, "views", 1, "fine-tuning with --augment: augmented views of each image per epoch")
	fs.StringVar(&backendFlag, "backend", "auto", "GoMLX backend for head training and fine-tuning: auto|onnx|xla|go (auto: ONNX Runtime when its library is found, else XLA when a PJRT plugin is installed, else pure Go)")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx := c.Context()
		if data == "" || bbFlag == "" {
			return usageErrorf("--data and --backbone are required")
		}
		if out == "" && reportDir == "" && !jsonOut {
			return usageErrorf("--out is required (or --report / --json to only measure)")
		}
		kind, err := ef.parse()
		if err != nil {
			return err
		}
		ratios, err := parseRatios(split)
		if err != nil {
			return usageErrorf("--split: %v", err)
		}
		if err := checkHead(headFlag, queries, attnDim, maxQueries); err != nil {
			return err
		}
		if err := checkPool(pool, headFlag); err != nil {
			return err
		}
		fviews, err := imageio.ParseViews(featureViews)
		if err != nil {
			return usageErrorf("--feature-views: %v", err)
		}
		if len(fviews) > 0 && (features != "" || unfreeze != "") {
			return usageErrorf("--feature-views augments the cached features of the frozen backbone, extracted from the images: not with --features or --unfreeze")
		}
		for _, f := range []string{"graph-tau", "graph-p", "graph-hidden"} {
			if c.Flags().Changed(f) && headFlag != head.GraphHead {
				return usageErrorf("--%s sets the graph head's label graph: it needs --head graph (got --head %s)", f, headFlag)
			}
		}
		if features != "" && (unfreeze != "" || randomBB) {
			return usageErrorf("--features holds the frozen backbone's features: it cannot be combined with --unfreeze or --random-backbone (they run the backbone on the images)")
		}
		if headFlag == "attention" && !c.Flags().Changed("dropout") {
			dropout = pipeline.AttnDropout
		}
		if headFlag == "attention" && !c.Flags().Changed("weight-decay") {
			wd = pipeline.AttnWeightDecay
		}
		if unfreeze != "" && pool != backbone.PoolAvg {
			return usageErrorf("--unfreeze fine-tunes with average pooling only; drop --pool %s or --unfreeze", pool)
		}
		tc := def
		tc.Loss, tc.Head, tc.Hidden, tc.Dropout = lossFlag, headFlag, hidden, dropout
		tc.GraphTau, tc.GraphP, tc.GraphHidden = graphTau, graphP, graphHidden
		tc.Epochs, tc.BatchSize, tc.LR, tc.WeightDecay, tc.Patience, tc.Schedule = epochs, batch, lr, wd, patience, schedule
		tc.Checkpoint, tc.Resume = checkpoint, resume
		tc.Backend, tc.ORTLib = backendFlag, ef.ortLib
		tc.Sampler = sf.config()
		calibFolds, err := sf.folds()
		if err != nil {
			return err
		}
		tc.Attention = headparams.AttnOptions{Dim: attnDim, MaxQueries: maxQueries, Fixed: queries == queriesFixed}
		attnEpochs := 0
		switch {
		case headFlag == "attention" && !c.Flags().Changed("epochs"):
			tc.Epochs = pipeline.DefaultAttnEpochs
		case headFlag == pipeline.HeadAuto && c.Flags().Changed("epochs"):
			attnEpochs = epochs
		}
		if err := validateTrainConfig(tc); err != nil {
			return usageErrorf("%v", err)
		}
		var ft *finetune.Config
		if unfreeze != "" {
			f := finetune.Config{Unfreeze: unfreeze, Epochs: ftEpochs, BatchSize: ftBatch, LR: ftLR, TailFactor: tailFactor,
				WarmupEpochs: ftWarmup, WeightDecay: wd, ClipNorm: ftDef.ClipNorm, Loss: lossFlag, TrainBN: trainBN,
				Views: views, Backend: backendFlag, Sampler: tc.Sampler, EMA: ftEMA}
			if cutout != 0 && !augment {
				return usageErrorf("--cutout needs --augment")
			}
			if !(cutout >= 0 && cutout <= 1) {
				return usageErrorf("--cutout %v must be in [0, 1]", cutout)
			}
			if augment {
				a := imageio.DefaultAugment()
				a.Cutout = cutout
				f.Augment = &a
			}
			if checkpoint != "" {
				f.Checkpoint, f.Resume = checkpoint+".finetune", resume
			}
			if err := f.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			ft = &f
		}
		// Object-storage inputs are staged locally; outputs are written locally and
		// uploaded when training has finished.
		rs, err := newRemote(data, rf.images, val, test, bbFlag, out, reportDir, features)
		if err != nil {
			return err
		}
		defer rs.close()
		var loaded *dataset.Dataset
		if features != "" {
			// The images are not read: label files are fetched alone (tar shards, which
			// hold the labels, are staged), and the features output with its names and
			// manifest.
			// Tar shards in a bucket are listed by range, not downloaded.
			if loaded, err = rs.loadRemoteTarLabels(ctx, &rf, data); err != nil {
				return err
			}
			labelPaths := []*string{&val, &test}
			if loaded == nil {
				labelPaths = append(labelPaths, &data)
			}
			if err := rs.stageLabels(ctx, &rf, labelPaths...); err != nil {
				return err
			}
			if features, err = rs.fetchOutput(ctx, features); err != nil {
				return stageErr(err)
			}
		} else if loaded, err = rs.loadRemoteTars(ctx, &rf, data, e.stderr); err != nil {
			return err
		} else if loaded != nil {
			// Tar shards in a bucket: listed and read by range, not downloaded.
			if err := rs.stageData(ctx, &rf, &val, &test); err != nil {
				return err
			}
		} else if err := rs.stageData(ctx, &rf, &data, &val, &test); err != nil {
			return err
		}
		if err := rs.fetchBackbone(ctx, &bbFlag); err != nil {
			return err
		}
		outURL, reportURL := out, reportDir
		out, reportDir = rs.localOut(out), rs.localOut(reportDir)
		if features == "" {
			strictData := data
			if loaded != nil {
				strictData = "" // checked as it was listed
			}
			if err := pf.checkStrict(ctx, rf, e.stderr, strictData, val, test); err != nil {
				return err
			}
		}
		inW, inH, err := parseInputSize(inputSize)
		if err != nil {
			return err
		}
		cfg := pipeline.TrainConfig{
			InputWidth: inW, InputHeight: inH,
			CalibFolds: calibFolds,
			Data:       data, Images: rf.images, DataOptions: rf.options(), Val: val, Test: test, Split: ratios, ValFraction: valFrac,
			Loaded: loaded, Backbone: bbFlag, Features: features, Strict: features != "" && rf.strict, FeatureNode: featureNode, Pool: pool, RandomBackbone: randomBB, Out: out,
			Engine: kind, ORTLib: ef.ortLib, Threads: ef.threads, CacheDir: cacheDir, NoCache: noCache,
			Train: tc, Seed: seed, Logger: e.log, Decision: sf.decision, Calibrate: sf.calibrate != "", CalibrateMethod: string(sf.calibrate), Refit: refit,
			AttnEpochs: attnEpochs, FeatureViews: fviews,
		}
		pf.apply(&cfg)
		of.apply(e)
		if !of.quiet {
			cfg.Progress = e.stderr
		}
		publish := func() error {
			if out != "" {
				if err := rs.publishFile(ctx, out, outURL); err != nil {
					return err
				}
			}
			if reportDir != "" {
				if err := rs.publishDir(ctx, reportDir, reportURL); err != nil {
					return err
				}
			}
			cfg.Out = outURL
			return nil
		}
		if ft != nil {
			return runFineTune(ctx, e, cfg, *ft, of.output(jsonOut, reportURL), reportDir, publish)
		}
		res, err := pipeline.Train(ctx, cfg)
		if err != nil {
			if model.IsBadInput(err) {
				return badInput(err)
			}
			return err
		}
		if reportDir != "" {
			if err := writeTrainReport(e, reportDir, res); err != nil {
				return err
			}
		}
		if err := publish(); err != nil {
			return err
		}
		return printTrainResult(e.stdout, res, cfg, of.output(jsonOut, reportURL))
	}
	return c
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
	Bundle     string                 `json:"bundle,omitempty"`
	ID         string                 `json:"id,omitempty"`
	Engine     string                 `json:"engine"`
	Backend    string                 `json:"backend,omitempty"`
	Splits     pipeline.SplitInfo     `json:"splits"`
	BadImages  int                    `json:"bad_images"`
	BestEpoch  int                    `json:"best_epoch"`
	Epochs     int                    `json:"epochs_run"`
	Thresholds []float64              `json:"thresholds"`
	Tuning     pipeline.ThresholdInfo `json:"thresholds_tuning"`
	Val        *metric.Result         `json:"val,omitempty"`
	Test       *metric.Result         `json:"test,omitempty"`
	Seconds    map[string]float64     `json:"seconds"`
	CacheHits  int                    `json:"cache_hits"`
	Report     string                 `json:"report,omitempty"`
	// Head is the trained head's kind; Auto what --head auto tried and why it chose it.
	Head string               `json:"head"`
	Auto *pipeline.AutoChoice `json:"auto,omitempty"`
	// GeMP is the learnt GeM exponent (--pool gem).
	GeMP float32 `json:"gem_p,omitempty"`
	// Refit is set with --refit: Test is then the refit model's, Val the selection's.
	Refit *pipeline.RefitInfo `json:"refit,omitempty"`
	// Graph summarises the graph head's label graph (--head graph).
	Graph *graphSummary `json:"graph,omitempty"`
}

// graphSummary is the label graph of a --head graph run, labels by name.
type graphSummary struct {
	Tau         float64  `json:"tau"`
	P           float64  `json:"p"`
	Edges       int      `json:"edges"`
	Isolated    []string `json:"isolated"`
	NoPositives []string `json:"no_positives,omitempty"`
}

func summariseGraph(g *head.LabelGraph, labels []string) *graphSummary {
	if g == nil {
		return nil
	}
	names := func(idx []int) []string {
		out := []string{}
		for _, i := range idx {
			if i < len(labels) {
				out = append(out, labels[i])
			}
		}
		return out
	}
	return &graphSummary{Tau: g.Tau, P: g.P, Edges: g.Edges, Isolated: names(g.Isolated), NoPositives: names(g.NoPositives)}
}

// String is the text output's line about the label graph.
func (g *graphSummary) String() string {
	s := fmt.Sprintf("label graph: %d links (tau %g, p %g)", g.Edges, g.Tau, g.P)
	if len(g.Isolated) > 0 {
		s += fmt.Sprintf("; %d label(s) without a link keep their own classifier: %s", len(g.Isolated), strings.Join(g.Isolated, ", "))
	}
	if len(g.NoPositives) > 0 {
		s += fmt.Sprintf("; no positive training image: %s", strings.Join(g.NoPositives, ", "))
	}
	return s
}

// trainOutput says how train prints its result.
type trainOutput struct {
	json    bool   // --json
	verbose bool   // --verbose: per-class tables and all metrics
	quiet   bool   // --quiet: the final line only
	report  string // --report directory ("" = none)
}

func printTrainResult(w io.Writer, res *pipeline.TrainResult, cfg pipeline.TrainConfig, o trainOutput) error {
	if o.json {
		s := trainSummary{Bundle: cfg.Out, Engine: res.Engine, Backend: res.Fit.Backend, Splits: res.Splits, BadImages: len(res.BadImages),
			BestEpoch: res.Fit.BestEpoch, Epochs: len(res.Fit.History), Thresholds: res.Bundle.Thresholds, Tuning: res.Tuning,
			Val: res.Val, Test: res.Test, CacheHits: res.CacheHits, Report: o.report, Refit: res.Refit,
			Seconds: map[string]float64{"features": res.FeatureSeconds, "train": res.TrainSeconds},
			Graph:   summariseGraph(res.Fit.Graph, res.Bundle.Labels),
			Head:    res.Fit.Config.Head, Auto: res.Auto}
		if g := res.Bundle.Head.GeM; len(g) == 1 {
			s.GeMP = g[0]
		}
		if cfg.Out != "" {
			s.ID = res.Bundle.ID
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	final := ""
	if cfg.Out != "" {
		final = fmt.Sprintf("wrote %s (id %.12s)", cfg.Out, res.Bundle.ID)
	}
	heldOut := func(name string, r *metric.Result) string {
		return fmt.Sprintf("%s: mAP %.4f  CF1 %.4f  OF1 %.4f  (%d images, thresholds tuned on validation)", name, r.MAP, r.CF1, r.OF1, r.NImages)
	}
	if o.quiet {
		if final == "" && res.Test != nil {
			final = heldOut("test", res.Test)
		}
		if final != "" {
			fmt.Fprintln(w, final)
		}
		return nil
	}
	sp := res.Splits
	fmt.Fprintf(w, "split: %d train, %d validation, %d test images (%s)", sp.Train, sp.Val, sp.Test, sp.Chosen)
	if n := len(res.BadImages); n > 0 {
		fmt.Fprintf(w, "; %d unusable image(s) skipped, first %s: %s", n, res.BadImages[0].Path, res.BadImages[0].Reason)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "engine: %s for features (%.1fs, %d cached); head %s + %s on %s: best epoch %d of %d (%.1fs)\n",
		res.Engine, res.FeatureSeconds, res.CacheHits, res.Fit.Config.Head, res.Fit.Config.Loss, cmp.Or(res.Fit.Backend, "?"),
		res.Fit.BestEpoch, len(res.Fit.History), res.TrainSeconds)
	if res.Auto != nil {
		fmt.Fprintf(w, "head auto: chose %s: %s\n", res.Auto.Chosen, res.Auto.Reason)
	}
	if g := res.Bundle.Head.GeM; len(g) == 1 {
		fmt.Fprintf(w, "gem pooling: learnt exponent p = %.3f (from %d)\n", g[0], headparams.GeMInitP)
	}
	if g := summariseGraph(res.Fit.Graph, res.Bundle.Labels); g != nil {
		fmt.Fprintln(w, g)
	}
	fmt.Fprintf(w, "thresholds: %s\n", res.Tuning.Summary())
	if rf := res.Refit; rf != nil {
		fmt.Fprintf(w, "refit: on %d train+validation images, head %d epochs", rf.Images, rf.HeadEpochs)
		if rf.FineTuneEpochs > 0 {
			fmt.Fprintf(w, ", fine-tuning %d epochs", rf.FineTuneEpochs)
		}
		fmt.Fprintf(w, " (%.1fs); validation figures are the selection model's, thresholds kept from it", rf.Seconds)
		if rf.SelectedTest != nil && res.Test != nil {
			fmt.Fprintf(w, "; test mAP selected %.4f, refit %.4f", rf.SelectedTest.MAP, res.Test.MAP)
		}
		fmt.Fprintln(w)
	}
	for _, part := range []struct {
		name string
		r    *metric.Result
	}{{"validation", res.Val}, {"test", res.Test}} {
		if part.r == nil || (part.name == "validation" && res.Test != nil && !o.verbose) {
			continue
		}
		if o.verbose {
			fmt.Fprintf(w, "\n%s (per-class thresholds tuned on validation):\n", part.name)
			if err := metric.WriteTable(w, part.r); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintln(w, heldOut(part.name, part.r))
	}
	if o.verbose {
		fmt.Fprintln(w)
	}
	if o.report != "" {
		fmt.Fprintf(w, "report: %s\n", o.report)
	}
	if final != "" {
		fmt.Fprintln(w, final)
	}
	return nil
}

// writeTrainReport writes the training report into dir.
func writeTrainReport(e *env, dir string, res *pipeline.TrainResult) error {
	return res.WriteReportFiles(dir)
}

// runFineTune is train --unfreeze: the head on frozen features, then the last blocks
// with it (pipeline.FineTune); it prints the fine-tuned result and the comparison.
// The report is written into reportDir; publish then uploads the outputs bound for
// object storage and sets cfg.Out to its URL.
func runFineTune(ctx context.Context, e *env, cfg pipeline.TrainConfig, ft finetune.Config, o trainOutput, reportDir string, publish func() error) error {
	asJSON := o.json
	r, err := pipeline.FineTune(ctx, cfg, ft)
	if err != nil {
		if model.IsBadInput(err) || errors.Is(err, finetune.ErrBadCut) {
			return badInput(err)
		}
		return err
	}
	res := r.AsTrainResult()
	if reportDir != "" {
		if err := writeTrainReport(e, reportDir, res); err != nil {
			return err
		}
	}
	if err := publish(); err != nil {
		return err
	}
	f := r.FineTune
	var perEpoch float64
	for _, h := range f.History[1:] {
		perEpoch += h.Seconds / float64(len(f.History)-1)
	}
	probeMAP, ftMAP := 0.0, 0.0
	if r.Probe.Test != nil && r.Test != nil {
		probeMAP, ftMAP = r.Probe.Test.MAP, r.Test.MAP
	}
	if asJSON {
		var buf strings.Builder
		if err := printTrainResult(&buf, res, cfg, o); err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(buf.String()), &m); err != nil {
			return err
		}
		m["fine_tune"] = f
		m["probe_test"] = r.Probe.Test
		m["seconds_per_epoch"] = perEpoch
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}
	if o.quiet {
		return printTrainResult(e.stdout, res, cfg, o)
	}
	if err := printTrainResult(e.stdout, res, cfg, o); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nfine-tuned from block %s (cut %s): %d backbone + %d head trainable parameters, %d epochs at %.1fs each (backend %s, prefix on %s), best epoch %d",
		f.Block, f.Cut, f.TailParams, f.HeadParams, len(f.History)-1, perEpoch, f.Backend, f.Engine, f.BestEpoch)
	if f.PeakRSSMB > 0 {
		fmt.Fprintf(e.stdout, ", peak RSS %.0f MiB", f.PeakRSSMB)
	}
	fmt.Fprintln(e.stdout)
	if r.Probe.Test != nil && r.Test != nil {
		fmt.Fprintf(e.stdout, "test mAP: head on frozen features %.4f, fine-tuned %.4f\n", probeMAP, ftMAP)
	}
	return nil
}

// parseInputSize reads --input-size: "" (the backbone's own size), "WxH" or "N" (N×N).
func parseInputSize(v string) (w, h int, err error) {
	if v == "" {
		return 0, 0, nil
	}
	ws, hs, ok := strings.Cut(strings.ToLower(v), "x")
	if !ok {
		hs = ws
	}
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if err1 != nil || err2 != nil || w < 16 || h < 16 || w > 8192 || h > 8192 {
		return 0, 0, usageErrorf("--input-size %q: want WxH (or N for NxN) with sides in 16..8192, e.g. 384x256", v)
	}
	return w, h, nil
}
