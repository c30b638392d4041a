package main

import (
	"context"
	"fmt"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/internal/fsutil"
)

func init() {
	register(&command{name: "export", summary: "export a bundle as one ONNX graph (image in, probabilities out)", run: runExport})
}

func runExport(ctx context.Context, args []string) error {
	fs := newFlags("export", "--model M.mlb --out model.onnx")
	modelPath := fs.String("model", "", "model bundle (.mlb)")
	out := fs.String("out", "", "ONNX file to write")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" || *out == "" {
		return usageErrorf("--model and --out are required")
	}
	b, err := bundle.Read(*modelPath)
	if err != nil {
		return badInput(err)
	}
	data, err := bundle.ExportONNX(b)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(*out, data, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s (%d bytes): input %v, output %q [batch, %d] = probabilities of %d labels\n",
		*out, len(data), b.Spec.Shape(), bundle.ExportOutput, len(b.Labels), len(b.Labels))
	return nil
}
