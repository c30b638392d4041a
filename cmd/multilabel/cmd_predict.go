package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/model"
)

func init() {
	register(&command{name: "predict", summary: "predict the labels of images (files or directories) with a .mlb bundle", run: runPredict})
}

func runPredict(ctx context.Context, args []string) error {
	fs := newFlags("predict", "--model M.mlb [--top-k K] [--threshold T] [--json] IMG|DIR...")
	modelPath := fs.String("model", "", "model bundle (.mlb)")
	topK := fs.Int("top-k", 0, "predict the K highest-scoring labels of each image (overrides thresholds)")
	threshold := fs.Float64("threshold", 0, "one global threshold in (0,1] instead of the bundle's per-label thresholds")
	jsonOut := fs.Bool("json", false, "print JSON")
	engineKind := fs.String("engine", "auto", "engine: auto|ort|go")
	ortLib := fs.String("ort-lib", "", "path of libonnxruntime.so (default: $ONNXRUNTIME_LIB or the install place)")
	threads := fs.Int("threads", 0, "engine threads (0: all cores)")
	batch := fs.Int("batch-size", 32, "images per engine call")
	recursive := fs.Bool("recursive", true, "walk directories recursively")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" {
		return usageErrorf("--model is required")
	}
	if fs.NArg() == 0 {
		return usageErrorf("no images given (files or directories)")
	}
	if *threshold < 0 || *threshold > 1 {
		return usageErrorf("--threshold %v: want 0 < T <= 1", *threshold)
	}
	if *topK < 0 {
		return usageErrorf("--top-k %d: want >= 0", *topK)
	}
	kind, err := auto.ParseKind(*engineKind)
	if err != nil {
		return usageErrorf("--engine: %v", err)
	}
	paths, err := model.ImageFiles(fs.Args(), *recursive)
	if err != nil {
		return badInput(err)
	}
	if len(paths) == 0 {
		return badInput(errors.New("no image files found in the given paths"))
	}
	b, err := bundle.Read(*modelPath)
	if err != nil {
		return badInput(err)
	}
	if *topK > len(b.Labels) {
		return usageErrorf("--top-k %d: the model has %d labels", *topK, len(b.Labels))
	}
	m, err := model.New(b, model.Options{Engine: kind, ORTLib: *ortLib, Threads: *threads, BatchSize: *batch, TopK: *topK, Threshold: *threshold})
	if err != nil {
		return err
	}
	defer m.Close()
	preds, err := m.PredictFiles(ctx, paths)
	if err != nil {
		return err
	}
	nok := 0
	for _, p := range preds {
		if p.Err == nil {
			nok++
		}
	}
	if err := writePredictions(modelStdout, os.Stderr, m, preds, *jsonOut); err != nil {
		return err
	}
	if nok == 0 {
		return badInput(fmt.Errorf("none of the %d image(s) could be read", len(preds)))
	}
	return nil
}

// predictionJSON is one image in predict's JSON output.
type predictionJSON struct {
	Path   string             `json:"path"`
	Labels []model.LabelScore `json:"labels,omitempty"`
	Scores map[string]float32 `json:"scores,omitempty"`
	Error  string             `json:"error,omitempty"`
}

func writePredictions(w, errw io.Writer, m *model.Model, preds []model.Prediction, asJSON bool) error {
	labels := m.Labels()
	if asJSON {
		out := struct {
			Model       string           `json:"model"`
			Labels      []string         `json:"labels"`
			Thresholds  []float64        `json:"thresholds"`
			Predictions []predictionJSON `json:"predictions"`
			Errors      int              `json:"errors"`
		}{Model: m.Bundle.ID, Labels: labels, Thresholds: m.Thresholds(), Predictions: make([]predictionJSON, len(preds))}
		for i, p := range preds {
			pj := predictionJSON{Path: p.Path}
			if p.Err != nil {
				pj.Error = p.Err.Error()
				out.Errors++
			} else {
				pj.Labels = p.Labels
				pj.Scores = make(map[string]float32, len(labels))
				for j, s := range p.Scores {
					pj.Scores[labels[j]] = s
				}
			}
			out.Predictions[i] = pj
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
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
