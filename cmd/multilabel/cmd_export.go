package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/internal/fsutil"
)

func newExportCmd(e *env) *cobra.Command {
	var modelPath, out string
	c := &cobra.Command{
		Use:   "export --model M.mlb --out model.onnx",
		Short: "export a bundle as one ONNX graph (image in, probabilities out)",
		Args:  noArgs,
	}
	c.Flags().StringVar(&modelPath, "model", "", "model bundle (.mlb)")
	c.Flags().StringVar(&out, "out", "", "ONNX file to write")
	c.RunE = func(c *cobra.Command, args []string) error {
		if modelPath == "" || out == "" {
			return usageErrorf("--model and --out are required")
		}
		ctx := c.Context()
		rs, err := newRemote(modelPath, out)
		if err != nil {
			return err
		}
		defer rs.close()
		if err := rs.fetchIn(ctx, &modelPath); err != nil {
			return err
		}
		b, err := bundle.Read(modelPath)
		if err != nil {
			return badInput(err)
		}
		data, err := bundle.ExportONNX(b)
		if err != nil {
			return err
		}
		local := rs.localOut(out)
		if err := fsutil.WriteFile(local, data, 0o644); err != nil {
			return err
		}
		if err := rs.publishFile(ctx, local, out); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s (%d bytes): input %v, output %q [batch, %d] = probabilities of %d labels\n",
			out, len(data), b.Spec.Shape(), bundle.ExportOutput, len(b.Labels), len(b.Labels))
		fmt.Fprintf(e.stdout, "the input is the preprocessed image, not the file: %s (metadata %s)\n", b.Spec.Describe(), bundle.MetaPreprocess)
		fmt.Fprintf(e.stdout, "a label is predicted when probabilities[j] >= thresholds[j] (metadata %s, rule %s in %s)\n", bundle.MetaThresholds, b.Rule(), bundle.MetaDecision)
		return nil
	}
	return c
}
