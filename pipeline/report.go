package pipeline

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/multilabel/multilabel/calib"
	"github.com/multilabel/multilabel/internal/fsutil"
	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/report"
)

// WriteReportFiles writes the plain-data part of a training report into dir (created
// when missing), each file through a temporary file and a rename:
//
//	metrics.json      validation and test metrics (metric.Result JSON) and split sizes
//	history.csv       one line per epoch (train loss, validation loss/mAP, EMA, lr)
//	predictions.csv   test-set scores (image,<labels>), readable by `multilabel eval --predictions`
//	thresholds.csv    the tuned per-label thresholds
//	summary.txt       the metric tables
//	index.html        the HTML report (package report) of the test split, with the history
func (r *TrainResult) WriteReportFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	put := func(name string, data []byte) error {
		p := filepath.Join(dir, name)
		if err := fsutil.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		return nil
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
	if err := put("summary.txt", sum.Bytes()); err != nil {
		return err
	}
	return r.writeHTML(dir)
}

// writeHTML writes index.html: the test (else validation) evaluation with the
// training history.
func (r *TrainResult) writeHTML(dir string) error {
	res, part := r.Test, "test"
	if res == nil {
		res, part = r.Val, "validation"
	}
	if res == nil || r.Bundle == nil || len(r.Scores) == 0 {
		return nil
	}
	meta := [][2]string{
		{"evaluated on", fmt.Sprintf("%s split (%d images)", part, len(r.Scores))},
		{"splits", fmt.Sprintf("%d train / %d val / %d test (%s)", r.Splits.Train, r.Splits.Val, r.Splits.Test, r.Splits.How)},
		{"backbone", r.Bundle.BackboneInfo.Name},
		{"engine", r.Engine},
		{"unusable images", fmt.Sprint(len(r.BadImages))},
	}
	if r.Bundle.BackboneInfo.Randomized {
		meta = append(meta, [2]string{"backbone weights", fmt.Sprintf("random initialisation (seed %d): transfer-gap baseline", r.Bundle.BackboneInfo.RandomSeed)})
	}
	if r.Bundle.ID != "" {
		meta = append(meta, [2]string{"bundle id", r.Bundle.ID})
	}
	var hist report.History
	if r.Fit != nil {
		meta = append(meta, [2]string{"head", fmt.Sprintf("%s, loss %s, best epoch %d of %d", r.Fit.Config.Head, r.Fit.Config.Loss, r.Fit.BestEpoch, len(r.Fit.History))})
		for _, e := range r.Fit.History {
			vm := e.ValMAP
			if r.Fit.UsedEMA {
				vm = e.ValMAPEMA
			}
			hist = append(hist, report.Epoch{Epoch: e.Epoch, TrainLoss: e.TrainLoss, ValLoss: e.ValLoss, ValMAP: vm})
		}
	}
	var secs []report.Section
	if c := r.Calibration; c != nil {
		if sa, sb := c.affine(); len(sa) == len(r.Bundle.Labels) {
			// The scores are calibrated (the map is in the head); the figures before
			// are recovered by undoing it.
			secs = append(secs, report.ReliabilitySection(report.Reliability{Labels: r.Bundle.Labels, Truth: r.Truth,
				Before: calib.UndoAffine(r.Scores, sa, sb), After: r.Scores, Temperatures: c.Temperatures, Part: part}))
		}
	}
	if sec, ok := r.mapsSection(context.Background()); ok {
		secs = append(secs, sec)
	}
	_, err := report.Write(dir, report.Input{
		Title: "Multi-label training report", Meta: meta,
		Labels: r.Bundle.Labels, Scores: r.Scores, Truth: r.Truth, Result: res, History: hist, Sections: secs,
	})
	return err
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
