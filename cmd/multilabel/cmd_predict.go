package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/prediction"
	"github.com/multilabel/multilabel/shard"
)

func newPredictCmd(e *env) *cobra.Command {
	var (
		modelPath        string
		ef               engineFlags
		topK, batch      int
		threshold        float64
		decision         string
		jsonOut, recurse bool
		sf               shardFlags
		out              string
		explainDir       string
	)
	c := &cobra.Command{
		Use:   "predict --model M.mlb [--top-k K] [--threshold T] [--json] IMG|DIR...",
		Short: "predict the labels of images (files or directories) with a .mlb bundle",
		Long: "predict prints the labels of images, or with --out F.csv writes every image's scores as CSV.\n\n" +
			"With --shard I/N (or $JOB_COMPLETION_INDEX and --num-shards N) it predicts only shard I of N into F.shard-I-of-N.csv; " +
			"\"multilabel predict merge OUT.csv SHARD.csv...\" joins the shards.",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("no images given (files or directories)")
			}
			return nil
		},
	}
	fs := c.Flags()
	fs.StringVar(&modelPath, "model", "", "model bundle (.mlb)")
	fs.IntVar(&topK, "top-k", 0, "predict the K highest-scoring labels of each image (overrides thresholds)")
	fs.Float64Var(&threshold, "threshold", 0, "one global threshold in (0,1] instead of the bundle's per-label thresholds")
	fs.StringVar(&decision, "decision", "", "decision rule instead of the one the bundle was trained with: f1|precision:P|recall:R|topk:K")
	fs.BoolVar(&jsonOut, "json", false, "print JSON")
	ef.register(fs, true)
	fs.IntVar(&batch, "batch-size", defaultBatchSize, "images per engine call")
	fs.BoolVar(&recurse, "recursive", true, "walk directories recursively")
	fs.StringVar(&explainDir, "explain", "", "write, for each image and each predicted label, the label's activation map over the image as DIR/<image>.<label>.png (listed under \"explain\" with --json); needs a bundle whose cut is a spatial map (see 'multilabel backbone inspect')")
	fs.StringVar(&out, "out", "", "write every image's scores as CSV (path, one column per label) to this file, with a manifest (needed with --shard)")
	sf.register(fs)
	c.AddCommand(newPredictMergeCmd(e))
	c.RunE = func(c *cobra.Command, args []string) error {
		if modelPath == "" {
			return usageErrorf("--model is required")
		}
		if threshold < 0 || threshold > 1 {
			return usageErrorf("--threshold %v: want 0 < T <= 1", threshold)
		}
		if err := checkDecisionFlag(decision, topK > 0 || threshold > 0); err != nil {
			return err
		}
		if topK < 0 {
			return usageErrorf("--top-k %d: want >= 0", topK)
		}
		kind, err := ef.parse()
		if err != nil {
			return err
		}
		spec, err := sf.resolve(e)
		if err != nil {
			return err
		}
		if spec.Sharded() && out == "" {
			return usageErrorf("--shard %s needs --out F.csv (each shard writes its own file)", spec)
		}
		paths, err := model.ImageFiles(args, recurse)
		if err != nil {
			return badInput(err)
		}
		if len(paths) == 0 {
			return badInput(errors.New("no image files found in the given paths"))
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
		total, sel := len(paths), spec.Select(slashed(paths))
		outURL := shardOut(spec, out)
		if out, err = rs.rowsOut(ctx, outURL); err != nil {
			return err
		}
		if out != "" && spec.Sharded() && shard.RowsComplete(out, "predictions", b.ID, spec, total) {
			e.log.Info("shard already complete; nothing to do", "shard", spec.String(), "out", outURL)
			fmt.Fprintf(e.stdout, "shard %s already complete: %s\n", spec, outURL)
			return nil
		}
		paths = pick(paths, sel)
		if topK > len(b.Labels) {
			return usageErrorf("--top-k %d: the model has %d labels", topK, len(b.Labels))
		}
		m, err := model.New(b, model.Options{Engine: kind, ORTLib: ef.ortLib, Threads: ef.threads, BatchSize: batch, TopK: topK, Threshold: threshold, Decision: decision,
			Explain: explainDir != ""})
		if err != nil {
			if explainDir != "" && errkind.IsBadInput(err) {
				return badInput(fmt.Errorf("--explain: %w", err))
			}
			return err
		}
		defer m.Close()
		var preds []model.Prediction
		var mapFiles [][]string
		if explainDir != "" {
			preds, mapFiles, err = predictExplained(ctx, m, paths, explainDir)
		} else {
			preds, err = m.PredictFiles(ctx, paths)
		}
		if err != nil {
			return err
		}
		nok := 0
		for _, p := range preds {
			if p.Err == nil {
				nok++
			}
		}
		if out != "" {
			if err := writePredictionRows(out, m, spec, total, sel, preds); err != nil {
				return err
			}
			if err := rs.publishRows(ctx, out, outURL); err != nil {
				return err
			}
		} else if err := writePredictions(e.stdout, e.stderr, m, preds, mapFiles, jsonOut); err != nil {
			return err
		}
		if explainDir != "" && !jsonOut {
			n := 0
			for _, f := range mapFiles {
				n += len(f)
			}
			fmt.Fprintf(e.stderr, "wrote %d activation map(s) to %s\n", n, explainDir)
		}
		if nok == 0 && len(preds) > 0 {
			return badInput(fmt.Errorf("none of the %d image(s) could be read", len(preds)))
		}
		return nil
	}
	return c
}

// explainChunk is the number of images predict --explain holds at once: their overlay
// PNGs are written, then dropped, chunk by chunk.
const explainChunk = 256

// predictExplained is PredictFiles with the maps of the predicted labels written to dir
// (model.MapWriter); files[i] lists image i's overlays, in its Maps order (whose PNG
// bytes are dropped once written).
func predictExplained(ctx context.Context, m *model.Model, paths []string, dir string) ([]model.Prediction, [][]string, error) {
	mw, err := model.NewMapWriter(dir, paths, m.Labels())
	if err != nil {
		return nil, nil, err
	}
	preds := make([]model.Prediction, 0, len(paths))
	files := make([][]string, len(paths))
	for start := 0; start < len(paths); start += explainChunk {
		chunk, err := m.PredictFiles(ctx, paths[start:min(start+explainChunk, len(paths))])
		if err != nil {
			return nil, nil, err
		}
		for k := range chunk {
			i := start + k
			if files[i], err = mw.Write(i, &chunk[k]); err != nil {
				return nil, nil, err
			}
			for q := range chunk[k].Maps {
				chunk[k].Maps[q].PNG = nil
			}
		}
		preds = append(preds, chunk...)
	}
	return preds, files, nil
}

func writePredictions(w, errw io.Writer, m *model.Model, preds []model.Prediction, mapFiles [][]string, asJSON bool) error {
	if asJSON {
		return writePredictionsJSON(w, m, preds, mapFiles)
	}
	for _, p := range preds {
		if p.Err != nil {
			fmt.Fprintf(errw, "skipped: %v\n", p.Err)
			continue
		}
		parts := make([]string, len(p.Labels))
		for i, l := range p.Labels {
			parts[i] = fmt.Sprintf("%s (%.3f)", l.Label, l.Score)
		}
		text := strings.Join(parts, ", ")
		if text == "" {
			text = "(no label)"
		}
		fmt.Fprintf(w, "%s\t%s\n", p.Path, text)
	}
	return nil
}

// writePredictionsJSON is predict --json: the model, its labels and thresholds, and each
// image in the one JSON shape of a prediction (package prediction), as the HTTP API
// and model.Prediction's marshalling write it; with --explain each map names its file
// (mapFiles[i][k] for preds[i].Maps[k]) instead of carrying the PNG.
func writePredictionsJSON(w io.Writer, m *model.Model, preds []model.Prediction, mapFiles [][]string) error {
	out := struct {
		Model       string             `json:"model"`
		Labels      []string           `json:"labels"`
		Thresholds  []float64          `json:"thresholds"`
		Predictions []prediction.Image `json:"predictions"`
		Errors      int                `json:"errors"`
	}{Model: m.Bundle.ID, Labels: m.Labels(), Thresholds: m.Thresholds(), Predictions: make([]prediction.Image, len(preds))}
	for i, p := range preds {
		out.Predictions[i] = m.JSON(p)
		if mapFiles != nil {
			for k := range out.Predictions[i].Explain {
				out.Predictions[i].Explain[k].File = mapFiles[i][k]
				out.Predictions[i].Explain[k].PNG = nil
			}
		}
		if p.Err != nil {
			out.Errors++
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
