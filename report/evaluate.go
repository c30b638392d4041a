package report

import (
	"fmt"
	"io"
	"sort"

	"github.com/multilabel/multilabel/metric"
)

// Outputs says where Evaluate writes its results; empty fields are skipped.
type Outputs struct {
	// Table receives the human-readable table (metric.WriteTable).
	Table io.Writer
	// JSONPath receives the metric.Result JSON (temp file + rename).
	JSONPath string
	// ReportDir receives index.html (Write).
	ReportDir string
}

// Evaluate is the whole evaluation step that commands share: it computes the metrics
// of in (in.Result when already set, else metric.Evaluate with in.Options) and writes
// the table, the JSON file and the HTML report that out asks for. It returns the
// result and the report's path ("" without ReportDir). Errors about the data wrap
// metric.ErrValue or metric.ErrShape.
func Evaluate(in Input, out Outputs) (*metric.Result, string, error) {
	res := in.Result
	if res == nil {
		var err error
		if res, err = metric.Evaluate(in.Scores, in.Truth, in.Labels, in.Options); err != nil {
			return nil, "", err
		}
		in.Result = res
	}
	if out.Table != nil {
		if err := metric.WriteTable(out.Table, res); err != nil {
			return nil, "", fmt.Errorf("writing the table: %w", err)
		}
	}
	if out.JSONPath != "" {
		if err := metric.WriteJSON(out.JSONPath, res); err != nil {
			return nil, "", err
		}
	}
	var path string
	if out.ReportDir != "" {
		var err error
		if path, err = Write(out.ReportDir, in); err != nil {
			return nil, "", err
		}
	}
	return res, path, nil
}

// HardestImages returns a Gallery section of up to n images with the most wrong
// decisions (false positives plus missed positives at the result's thresholds), most
// first; paths[i] is image i's file. Images without a mistake are left out.
func HardestImages(res *metric.Result, scores [][]float32, truth [][]int8, names, paths []string, n int) Section {
	type item struct{ i, wrong int }
	var items []item
	for i, row := range scores {
		w := 0
		for j, s := range row {
			pred := float64(s) >= res.PerClass[j].Threshold
			if t := truth[i][j]; t >= 0 && pred != (t == 1) {
				w++
			}
		}
		if w > 0 {
			items = append(items, item{i, w})
		}
	}
	sort.SliceStable(items, func(a, b int) bool { return items[a].wrong > items[b].wrong })
	if len(items) > n {
		items = items[:n]
	}
	if len(items) == 0 {
		return Section{Title: "Hardest images", HTML: `<p class="note">No image has a wrong decision.</p>`}
	}
	var g []GalleryItem
	for _, it := range items {
		gi := GalleryItem{Path: paths[it.i], Caption: fmt.Sprintf("%s (%d wrong)", names[it.i], it.wrong)}
		for j, s := range scores[it.i] {
			pred := float64(s) >= res.PerClass[j].Threshold
			if pred || truth[it.i][j] == 1 {
				gi.Labels = append(gi.Labels, GalleryLabel{Name: res.PerClass[j].Label, Score: float64(s), Predicted: pred, Truth: truth[it.i][j]})
			}
		}
		g = append(g, gi)
	}
	return Section{Title: "Hardest images", HTML: `<p class="note">Green: correct, red: false positive, struck through: missed.</p>` + Gallery(g)}
}
