package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/multilabel/multilabel/demo"
	"github.com/multilabel/multilabel/synth/cnn"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "transfer learning vs training from scratch on a built-in synthetic task (no downloads)",
		run:     runDemo,
	})
}

func runDemo(ctx context.Context, args []string) error {
	fs := newFlags("demo", "[--quick] [--out DIR] [--seed N] [--pretrain | --backbone FILE] [--json]")
	quick := fs.Bool("quick", false, "small configuration: under a minute on two cores")
	out := fs.String("out", filepath.Join(os.TempDir(), "multilabel-demo"), "directory for the data set, report, bundle and backbone")
	seed := fs.Uint64("seed", 1, "seed of the world, initialisations and shuffling")
	pretrain := fs.Bool("pretrain", false, "pretrain the backbone on the synth source task afresh (minutes) instead of using the embedded one")
	bbFile := fs.String("backbone", "", "ONNX backbone written by the synth pretraining (default: the embedded one)")
	data := fs.String("data", "", "real data set (not supported yet)")
	engineKind := fs.String("engine", "auto", "feature engine: auto, ort or go")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %v", fs.Args())
	}
	if *data != "" {
		return usageErrorf("--data: the demo runs on its synthetic world only; use 'multilabel train' for real data")
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
			return badInput(fmt.Errorf("--backbone %s: not a synth demo backbone (written by go run ./synth/cmd/pretrain)", *bbFile))
		}
		cfg.Backbone = b
	}
	cfg.Progress = os.Stderr
	res, err := demo.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Print(res.Table(true))
	fmt.Println()
	fmt.Print(res.Summary())
	fmt.Printf("\nreport: %s\nbundle: %s\ndata:   %s\ntotal:  %.1fs (features: %s)\n",
		res.ReportPath, orNone(res.BundlePath), res.DataDir, res.Seconds, res.Engine)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(not written)"
	}
	return s
}
