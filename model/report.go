package model

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/multilabel/multilabel/metric"
)

// WriteReportFiles writes the plain-data part of a training report into dir (created
// when missing), each file through a temporary file and a rename:
//
//	metrics.json      validation and test metrics (metric.Result JSON) and split sizes
//	history.csv       one line per epoch (train loss, validation loss/mAP, EMA, lr)
//	predictions.csv   test-set scores (image,<labels>), readable by `multilabel eval --predictions`
//	thresholds.csv    the tuned per-label thresholds
//	summary.txt       the metric tables
func (r *TrainResult) WriteReportFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	put := func(name string, data []byte) error {
		return metric.WriteFileAtomic(filepath.Join(dir, name), data)
	}
	mets := map[string]any{"splits": r.Splits, "engine": r.Engine, "bad_images": r.BadImages}
	if r.Val != nil {
		mets["val"] = r.Val
	}
	if r.Test != nil {
		mets["test"] = r.Test
	}
	if r.Bundle != nil && r.Bundle.ID != "" {
		mets["bundle_id"] = r.Bundle.ID
	}
	js, err := json.MarshalIndent(mets, "", "  ")
	if err != nil {
		return fmt.Errorf("report: metrics: %w", err)
	}
	if err := put("metrics.json", js); err != nil {
		return err
	}
	if r.Fit != nil {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.Write([]string{"epoch", "train_loss", "val_loss", "val_map", "val_loss_ema", "val_map_ema", "lr", "seconds", "best"})
		f := func(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }
		for _, e := range r.Fit.History {
			w.Write([]string{strconv.Itoa(e.Epoch), f(e.TrainLoss), f(e.ValLoss), f(e.ValMAP), f(e.ValLossEMA), f(e.ValMAPEMA), f(e.LR), f(e.Seconds), strconv.FormatBool(e.Best)})
		}
		w.Flush()
		if err := put("history.csv", b.Bytes()); err != nil {
			return err
		}
	}
	if r.Bundle != nil {
		labels := r.Bundle.Labels
		if len(r.Scores) > 0 {
			if err := put("predictions.csv", PredictionsCSV(labels, r.TestPaths, r.Scores)); err != nil {
				return err
			}
		}
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.Write([]string{"label", "threshold"})
		for j, l := range labels {
			w.Write([]string{l, strconv.FormatFloat(r.Bundle.Thresholds[j], 'g', 8, 64)})
		}
		w.Flush()
		if err := put("thresholds.csv", b.Bytes()); err != nil {
			return err
		}
	}
	var sum bytes.Buffer
	for _, part := range []struct {
		name string
		r    *metric.Result
	}{{"validation", r.Val}, {"test", r.Test}} {
		if part.r == nil {
			continue
		}
		fmt.Fprintf(&sum, "== %s ==\n", part.name)
		if err := metric.WriteTable(&sum, part.r); err != nil {
			return err
		}
		sum.WriteString("\n")
	}
	return put("summary.txt", sum.Bytes())
}

// PredictionsCSV formats scores as a predictions file: a header "image,<labels...>"
// and one row per image.
func PredictionsCSV(labels, images []string, scores [][]float32) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(append([]string{"image"}, labels...))
	row := make([]string, len(labels)+1)
	for i, s := range scores {
		row[0] = images[i]
		for j, v := range s {
			row[j+1] = strconv.FormatFloat(float64(v), 'g', 7, 32)
		}
		w.Write(row)
	}
	w.Flush()
	return b.Bytes()
}
