package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/multilabel/multilabel/internal/demo"
	"github.com/multilabel/multilabel/internal/synth/cnn"
	"github.com/multilabel/multilabel/model"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "transfer learning vs training from scratch: on a built-in synthetic task (no downloads) or, with --data, on real data",
		run:     runDemo,
	})
}

func runDemo(ctx context.Context, args []string) error {
	fs := newFlags("demo", "[--quick] [--out DIR] [--seed N] [--pretrain | --backbone FILE] [--json]\n"+
		"       multilabel demo --backbone FILE|ZOO --data D [--images DIR] [--methods M,...] [--limit N] [--quick] [--out DIR] [--seed N] [--json]")
	quick := fs.Bool("quick", false, "small configuration: under a minute on two cores")
	out := fs.String("out", filepath.Join(os.TempDir(), "multilabel-demo"), "directory for the data set, report, bundle and backbone")
	seed := fs.Uint64("seed", 1, "seed of the world, initialisations and shuffling")
	pretrain := fs.Bool("pretrain", false, "pretrain the backbone on the synth source task afresh (minutes) instead of using the embedded one")
	bbFile := fs.String("backbone", "", "ONNX backbone written by the synth pretraining (default: the embedded one); with --data: an ONNX file, a directory holding one, or a zoo name")
	data := fs.String("data", "", "real data set (label file: CSV, COCO JSON or VOC root): run the comparison on it (needs --backbone)")
	images := fs.String("images", "", "with --data: directory the label file's image names are relative to")
	methods := fs.String("methods", "", "with --data: comma-separated subset of scratch,linear-probe,fine-tune (default: all)")
	limit := fs.Int("limit", 0, "with --data: use a label-stratified seeded subset of this many images (0: all)")
	ftEpochs := fs.Int("ft-epochs", 0, "with --data: fine-tuning epochs of the scratch and fine-tune rows (default: 1 with --quick, else 3)")
	ortLib := fs.String("ort-lib", "", "with --data: path of libonnxruntime.so (default: $ONNXRUNTIME_LIB or the install place)")
	cacheDir := fs.String("cache-dir", "", "with --data: feature cache directory (default: the user cache)")
	engineKind := fs.String("engine", "auto", "feature engine: auto, ort or go")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %v", fs.Args())
	}
	if *data != "" {
		if *pretrain {
			return usageErrorf("--data and --pretrain exclude each other")
		}
		if *bbFile == "" {
			return usageErrorf("--data needs --backbone (an ONNX file or a zoo name)")
		}
		cfg := demo.DefaultReal()
		if *quick {
			cfg = demo.QuickReal()
		}
		if *methods != "" {
			cfg.Methods = strings.Split(*methods, ",")
		}
		if _, err := demo.CheckMethods(cfg.Methods); err != nil {
			return usageErrorf("--methods: %v", err)
		}
		if *limit < 0 {
			return usageErrorf("--limit %d: want >= 0", *limit)
		}
		if *ftEpochs < 0 {
			return usageErrorf("--ft-epochs %d: want >= 0", *ftEpochs)
		}
		if *ftEpochs > 0 {
			cfg.FineTuneEpochs = *ftEpochs
		}
		cfg.Data, cfg.Images, cfg.Backbone, cfg.Limit = *data, *images, *bbFile, *limit
		cfg.Seed, cfg.OutDir, cfg.Engine, cfg.ORTLib, cfg.CacheDir = *seed, *out, *engineKind, *ortLib, *cacheDir
		cfg.Progress = os.Stderr
		res, err := demo.RunReal(ctx, cfg)
		if err != nil {
			if errors.Is(err, demo.ErrBadConfig) || model.IsBadInput(err) {
				return badInput(err)
			}
			return err
		}
		return printDemo(res, *asJSON)
	}
	for _, f := range []string{"images", "methods", "limit", "ft-epochs", "ort-lib", "cache-dir"} {
		if flagSet(fs, f) {
			return usageErrorf("--%s applies to real data only (with --data)", f)
		}
	}
	cfg := demo.Default()
	if *quick {
		cfg = demo.Quick()
	}
	cfg.Seed, cfg.OutDir, cfg.Pretrain, cfg.Engine = *seed, *out, *pretrain, *engineKind
	if *bbFile != "" {
		if *pretrain {
			return usageErrorf("--backbone and --pretrain exclude each other")
		}
		b, err := os.ReadFile(*bbFile)
		if err != nil {
			return badInput(fmt.Errorf("--backbone: %w", err))
		}
		if !cnn.IsSynth(b) {
			return badInput(fmt.Errorf("--backbone %s: not a synth demo backbone (written by go run ./internal/demo/cmd/pretrain)", *bbFile))
		}
		cfg.Backbone = b
	}
	cfg.Progress = os.Stderr
	res, err := demo.Run(ctx, cfg)
	if err != nil {
		return err
	}
	return printDemo(res, *asJSON)
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func printDemo(res *demo.Result, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Print(res.Table(true))
	fmt.Println()
	fmt.Print(res.Summary())
	fmt.Printf("\nreport: %s\nbundle: %s\ndata:   %s\ntotal:  %.1fs (features: %s)\n",
		orNone(res.ReportPath), orNone(res.BundlePath), res.DataDir, res.Seconds, res.Engine)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(not written)"
	}
	return s
}
