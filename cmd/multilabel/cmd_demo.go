package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/internal/demo"
	"github.com/multilabel/multilabel/internal/synth/cnn"
	"github.com/multilabel/multilabel/model"
)

func newDemoCmd(e *env) *cobra.Command {
	var (
		quick, pretrain, asJSON              bool
		out, bbFile, data, methods, cacheDir string
		rf                                   readerFlags
		ef                                   engineFlags
		seed                                 uint64
		limit, ftEpochs                      int
	)
	c := &cobra.Command{
		Use: "demo [--quick] [--out DIR] [--seed N] [--pretrain | --backbone FILE] [--json]\n" +
			"  multilabel demo --backbone FILE|ZOO --data D [--images DIR] [--methods M,...] [--limit N] [--quick] [--out DIR] [--seed N] [--json]",
		Short: "transfer learning vs training from scratch: on a built-in synthetic task (no downloads) or, with --data, on real data",
		Args:  noArgs,
	}
	fs := c.Flags()
	fs.BoolVar(&quick, "quick", false, "small configuration: under a minute on two cores")
	fs.StringVar(&out, "out", filepath.Join(os.TempDir(), "multilabel-demo"), "directory for the data set, report, bundle and backbone")
	fs.Uint64Var(&seed, "seed", 1, "seed of the world, initialisations and shuffling")
	fs.BoolVar(&pretrain, "pretrain", false, "pretrain the backbone on the synth source task afresh (minutes) instead of using the embedded one")
	fs.StringVar(&bbFile, "backbone", "", "ONNX backbone written by the synth pretraining (default: the embedded one); with --data: an ONNX file, a directory holding one, or a zoo name")
	fs.StringVar(&data, "data", "", "real data set (label file: CSV, COCO JSON or VOC root): run the comparison on it (needs --backbone)")
	rf.register(fs, "with --data: open every image first and fail at the first unusable one")
	fs.Lookup("images").Usage = "with --data: directory the label file's image names are relative to"
	fs.StringVar(&methods, "methods", "", "with --data: comma-separated subset of scratch,linear-probe,fine-tune (default: all)")
	fs.IntVar(&limit, "limit", 0, "with --data: use a label-stratified seeded subset of this many images (0: all)")
	fs.IntVar(&ftEpochs, "ft-epochs", 0, "with --data: fine-tuning epochs of the scratch and fine-tune rows (default: 1 with --quick, else 3)")
	ef.register(fs, true)
	fs.StringVar(&cacheDir, "cache-dir", "", "with --data: feature cache directory (default: the user cache)")
	fs.BoolVar(&asJSON, "json", false, "print the results as JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx := c.Context()
		kind, err := ef.parse()
		if err != nil {
			return err
		}
		if data != "" {
			if pretrain {
				return usageErrorf("--data and --pretrain exclude each other")
			}
			if bbFile == "" {
				return usageErrorf("--data needs --backbone (an ONNX file or a zoo name)")
			}
			cfg := demo.DefaultReal()
			if quick {
				cfg = demo.QuickReal()
			}
			if methods != "" {
				cfg.Methods = strings.Split(methods, ",")
			}
			if _, err := demo.CheckMethods(cfg.Methods); err != nil {
				return usageErrorf("--methods: %v", err)
			}
			if limit < 0 {
				return usageErrorf("--limit %d: want >= 0", limit)
			}
			if ftEpochs < 0 {
				return usageErrorf("--ft-epochs %d: want >= 0", ftEpochs)
			}
			if ftEpochs > 0 {
				cfg.FineTuneEpochs = ftEpochs
			}
			images := rf.images
			tmp, err := os.MkdirTemp("", "multilabel-demo-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			if err := rf.prepare(ctx, tmp, e.stderr, &images, &data); err != nil {
				return err
			}
			cfg.Data, cfg.Images, cfg.Backbone, cfg.Limit = data, images, bbFile, limit
			cfg.Seed, cfg.OutDir, cfg.Engine, cfg.ORTLib, cfg.Threads, cfg.CacheDir = seed, out, kind, ef.ortLib, ef.threads, cacheDir
			cfg.Log = e.log
			cfg.Progress = e.stderr
			res, err := demo.RunReal(ctx, cfg)
			if err != nil {
				if errors.Is(err, demo.ErrBadConfig) || model.IsBadInput(err) {
					return badInput(err)
				}
				return err
			}
			return printDemo(e, res, asJSON)
		}
		for _, f := range []string{"images", "format", "list-sep", "labels", "voc-set", "keep-unannotated", "strict",
			"methods", "limit", "ft-epochs", "ort-lib", "threads", "cache-dir"} {
			if fs.Changed(f) {
				return usageErrorf("--%s applies to real data only (with --data)", f)
			}
		}
		cfg := demo.Default()
		if quick {
			cfg = demo.Quick()
		}
		cfg.Seed, cfg.OutDir, cfg.Pretrain, cfg.Engine = seed, out, pretrain, kind
		if bbFile != "" {
			if pretrain {
				return usageErrorf("--backbone and --pretrain exclude each other")
			}
			b, err := os.ReadFile(bbFile)
			if err != nil {
				return badInput(fmt.Errorf("--backbone: %w", err))
			}
			if !cnn.IsSynth(b) {
				return badInput(fmt.Errorf("--backbone %s: not a synth demo backbone (written by go run ./synth/cmd/pretrain)", bbFile))
			}
			cfg.Backbone = b
		}
		cfg.Log = e.log
		cfg.Progress = e.stderr
		res, err := demo.Run(ctx, cfg)
		if err != nil {
			return err
		}
		return printDemo(e, res, asJSON)
	}
	return c
}

func printDemo(e *env, res *demo.Result, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprint(e.stdout, res.Table(true))
	fmt.Fprintln(e.stdout)
	fmt.Fprint(e.stdout, res.Summary())
	fmt.Fprintf(e.stdout, "\nreport: %s\nbundle: %s\ndata:   %s\ntotal:  %.1fs (features: %s)\n",
		orNone(res.ReportPath), orNone(res.BundlePath), res.DataDir, res.Seconds, res.Engine)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(not written)"
	}
	return s
}
