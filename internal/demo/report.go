package demo

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // real-data galleries
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/draw"

	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/report"
)

func pngBytes(img image.Image, scale int) []byte {
	b := img.Bounds()
	big := image.NewRGBA(image.Rect(0, 0, b.Dx()*scale, b.Dy()*scale))
	draw.NearestNeighbor.Scale(big, big.Bounds(), img, b, draw.Src, nil)
	var buf bytes.Buffer
	_ = png.Encode(&buf, big)
	return buf.Bytes()
}

// thumbnail decodes an image file and returns it as a PNG at most size pixels wide
// and high.
func thumbnail(path string, size int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("%s: empty image", path)
	}
	s := math.Min(1, float64(size)/float64(max(w, h)))
	small := image.NewRGBA(image.Rect(0, 0, max(1, int(float64(w)*s)), max(1, int(float64(h)*s))))
	draw.ApproxBiLinear.Scale(small, small.Bounds(), img, b, draw.Src, nil)
	var buf bytes.Buffer
	if err := png.Encode(&buf, small); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (r *Result) best() int {
	best := -1
	for i, row := range r.Rows {
		if best < 0 || row.MAP > r.Rows[best].MAP {
			best = i
		}
	}
	return best
}

// HTML renders the report with package report: the findings and the setup at the top,
// the full evaluation of the best model (per-class AP, PR curves, thresholds, score
// distributions, co-occurrence, its training loss), then the comparison of the six
// models (table and plots), the long tail of the labels and a gallery of test images
// with the best model's predictions. It is one self-contained file.
func (r *Result) HTML() ([]byte, error) {
	b := r.best()
	if b < 0 {
		return nil, errNoRows
	}
	bestRow := r.Rows[b]
	truth := make([][]int8, len(r.test))
	for i, s := range r.test {
		truth[i] = s.Truth
	}
	task := fmt.Sprintf("synthetic multi-label world: %d training and %d test images, %d labels, imbalance ratio %.1f",
		r.TrainImages, r.TestImages, len(r.Labels), r.ImbalanceRatio)
	title := "multilabel demo: transfer learning vs training from scratch"
	if r.real {
		truth = bestRow.truth
		task = fmt.Sprintf("%s: %d training and %d test images (seeded split of multilabel train), %d labels, imbalance ratio %.1f over the data set",
			r.DataDir, r.TrainImages, r.TestImages, len(r.Labels), r.ImbalanceRatio)
		title = "multilabel demo on real data: transfer learning vs random weights"
	}
	meta := [][2]string{
		{"task", task},
		{"backbone", r.BackboneSource},
		{"feature engine", r.Engine},
		{"time", fmt.Sprintf("%.1fs", r.Seconds)},
	}
	for _, line := range strings.Split(strings.TrimSpace(r.Summary()), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		meta = append(meta, [2]string{k, v})
	}
	if r.real {
		meta = append(meta, [2]string{"metrics", "test set; CF1 and OF1 at per-class thresholds tuned on the validation set"})
	}
	meta = append(meta, [2]string{"evaluated below", fmt.Sprintf("the best model, %s / %s (mAP %.3f); the %d models are compared at the top",
		bestRow.Method, bestRow.Loss, bestRow.MAP, len(r.Rows))})

	var hist report.History
	for i, l := range bestRow.Curve {
		hist = append(hist, report.Epoch{Epoch: i + 1, TrainLoss: l, ValLoss: math.NaN(), ValMAP: math.NaN()})
	}

	// The comparison.
	header := []string{"method", "loss", "mAP", "CF1", "OF1", "rare AP"}
	for _, l := range r.RareLabels {
		header = append(header, "AP "+l)
	}
	header = append(header, "time")
	var rows [][]string
	var mapBars, rareBars []report.Bar
	var series []report.Series
	for _, row := range r.Rows {
		cells := []string{row.Method, row.Loss, fmt.Sprintf("%.3f", row.MAP), fmt.Sprintf("%.3f", row.CF1),
			fmt.Sprintf("%.3f", row.OF1), num(row.RareAP)}
		for _, v := range row.RarePerClass {
			cells = append(cells, num(v))
		}
		rows = append(rows, append(cells, fmt.Sprintf("%.1fs", row.Seconds)))
		name := row.Method + " / " + row.Loss
		mapBars = append(mapBars, report.Bar{Name: name, Value: row.MAP})
		rb := report.Bar{Name: name, Value: row.RareAP}
		if math.IsNaN(row.RareAP) {
			rb = report.Bar{Name: name, Note: "no positives"}
		}
		rareBars = append(rareBars, rb)
		// Each curve scaled to its first epoch: losses of different kinds have
		// different scales, the shape is what compares.
		s := report.Series{Name: name, Dashed: row.Loss != "bce"}
		for i, l := range row.Curve {
			s.X = append(s.X, float64(i+1))
			s.Y = append(s.Y, l/row.Curve[0])
		}
		if len(s.X) > 0 {
			series = append(series, s)
		}
	}
	comparison := `<p class="note">scratch: the whole network trained from random weights on this data; ` +
		`linear probe: the pretrained backbone frozen, only a linear head trained on its features; ` +
		`fine-tune: the probe's head, then the last backbone blocks trained with it. ` +
		fmt.Sprintf("Rare-label AP: the mean average precision over the %d labels with the fewest training positives.</p>", len(r.RareLabels)) +
		report.Table(header, rows) +
		report.BarChart("demo-map", "Test mAP per model", mapBars, 1) +
		report.BarChart("demo-rare", fmt.Sprintf("Mean AP of the %d rarest labels (%s)", len(r.RareLabels),
			strings.Join(r.RareLabels, ", ")), rareBars, 1)
	if len(series) > 0 {
		comparison += report.LineChart(report.Chart{ID: "demo-loss", Title: "Training loss (relative to epoch 1)",
			XLabel: "epoch", YLabel: "loss / first-epoch loss", Series: series})
	}
	tailTitle := "Training positives per label"
	if r.real {
		tailTitle = "Positives per label in the data set"
	}
	var tail []report.Bar
	for j, c := range r.TrainCounts {
		tail = append(tail, report.Bar{Name: r.Labels[j], Value: float64(c), Count: true})
	}
	var items []report.GalleryItem
	for i := 0; i < min(12, len(truth)); i++ {
		var it report.GalleryItem
		if r.real {
			data, err := thumbnail(bestRow.paths[i], 160)
			if err != nil {
				continue
			}
			it = report.GalleryItem{Data: data, Caption: filepath.Base(bestRow.paths[i])}
		} else {
			it = report.GalleryItem{Data: pngBytes(r.test[i].Image, 6), Caption: fmt.Sprintf("test image %d", i)}
		}
		for j, l := range r.Labels {
			sc := float64(bestRow.scores[i][j])
			if sc >= 0.5 || truth[i][j] == 1 {
				it.Labels = append(it.Labels, report.GalleryLabel{Name: l, Score: sc, Predicted: sc >= 0.5, Truth: truth[i][j]})
			}
		}
		items = append(items, it)
	}
	sections := []report.Section{
		{Title: tailTitle + " (the long tail)", HTML: report.BarChart("demo-tail", tailTitle, tail, 0)},
		{Title: fmt.Sprintf("Predictions of the best model (%s / %s) on test images", bestRow.Method, bestRow.Loss),
			HTML: report.Gallery(items)},
	}
	if r.maps != nil {
		sections = append(sections, *r.maps)
	}
	var opts metric.Options
	if r.real {
		opts.Thresholds = bestRow.thresholds // tuned on the validation set, as in the table
	}
	return report.Build(report.Input{
		Title:    title,
		Options:  opts,
		Meta:     meta,
		Labels:   r.Labels,
		Scores:   bestRow.scores,
		Truth:    truth,
		History:  hist,
		Lead:     []report.Section{{Title: "Comparison: " + r.methodsTitle(), HTML: comparison}},
		Sections: sections,
	})
}

func (r *Result) methodsTitle() string {
	var ms []string
	seen := map[string]bool{}
	for _, row := range r.Rows {
		if !seen[row.Method] {
			seen[row.Method] = true
			ms = append(ms, strings.Replace(row.Method, "linear-probe", "linear probe", 1))
		}
	}
	return strings.Join(ms, ", ") + " × BCE, ASL"
}
