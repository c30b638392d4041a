package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/multilabel/multilabel/calib"
)

// Reliability is what the calibration section shows: each label's probabilities before
// and after temperature scaling on the same images, with their truth.
type Reliability struct {
	Labels        []string
	Truth         [][]int8
	Before, After [][]float32
	// Temperatures are the fitted per-label temperatures (shown in the table; may be nil).
	Temperatures []float64
	// Bins is the number of equal-width probability bins; 0 means 15 (as the training
	// record's ECE).
	Bins int
	// Part names the share the scores come from ("test", "validation").
	Part string
}

// reliabilityBins pools the known entries of all labels into bins equal-width
// probability bins: the mean probability and the share of positives of each non-empty
// bin, and how many entries it holds.
func reliabilityBins(probs [][]float32, truth [][]int8, bins int) (conf, freq, count []float64) {
	n := make([]float64, bins)
	sp := make([]float64, bins)
	sy := make([]float64, bins)
	for i, row := range probs {
		for c, p := range row {
			y := truth[i][c]
			if y < 0 || math.IsNaN(float64(p)) {
				continue
			}
			b := min(int(float64(p)*float64(bins)), bins-1)
			b = max(b, 0)
			n[b]++
			sp[b] += float64(p)
			sy[b] += float64(y)
		}
	}
	for b := range n {
		if n[b] > 0 {
			conf = append(conf, sp[b]/n[b])
			freq = append(freq, sy[b]/n[b])
			count = append(count, n[b])
		}
	}
	return conf, freq, count
}

func meanFinite(v []float64) float64 {
	s, k := 0.0, 0
	for _, x := range v {
		if finite(x) {
			s += x
			k++
		}
	}
	if k == 0 {
		return math.NaN()
	}
	return s / float64(k)
}

// ReliabilitySection returns the report section "Calibration": a reliability diagram
// (observed share of positives against the mean predicted probability, per bin, all
// labels' known entries pooled) before and after calibration, against the diagonal of
// perfect calibration, and a table of each label's expected calibration error before
// and after (with its temperature). Nil Before or After leaves that series out; with
// neither, the section says there is nothing to show.
func ReliabilitySection(r Reliability) Section {
	bins := r.Bins
	if bins <= 0 {
		bins = 15
	}
	sec := Section{Title: "Calibration"}
	if r.Before == nil && r.After == nil {
		sec.HTML = `<p class="note">No calibration data.</p>`
		return sec
	}
	var eceB, eceA []float64
	series := []Series{{Name: "perfect calibration", X: []float64{0, 1}, Y: []float64{0, 1}, Color: "#999", Dashed: true}}
	for _, v := range []struct {
		name  string
		probs [][]float32
		ece   *[]float64
		color string
	}{{"before", r.Before, &eceB, "#d62728"}, {"after", r.After, &eceA, "#1f77b4"}} {
		if v.probs == nil {
			continue
		}
		*v.ece = calib.ECE(v.probs, r.Truth, bins)
		conf, freq, _ := reliabilityBins(v.probs, r.Truth, bins)
		series = append(series, Series{Name: fmt.Sprintf("%s (mean ECE %.3f)", v.name, meanFinite(*v.ece)), X: conf, Y: freq, Color: v.color})
	}
	var b strings.Builder
	part := r.Part
	if part == "" {
		part = "evaluation"
	}
	fmt.Fprintf(&b, `<p class="note">Temperature scaling (--calibrate) on the %s share: each point is one of %d equal-width probability bins, all labels' known entries pooled; on the dashed diagonal, predicted probabilities match observed frequencies. ECE is the bin-weighted mean gap, per label.</p>`, esc(part), bins)
	b.WriteString(plots(LineChart(Chart{ID: "reliability", Title: "Reliability diagram", XLabel: "mean predicted probability",
		YLabel: "observed share of positives", XMin: 0, XMax: 1, YMin: 0, YMax: 1.02, Series: series, Width: 480, Height: 360})))
	hdr := []string{"label"}
	if eceB != nil {
		hdr = append(hdr, "ECE before")
	}
	if eceA != nil {
		hdr = append(hdr, "ECE after")
	}
	if r.Temperatures != nil {
		hdr = append(hdr, "temperature")
	}
	var rows [][]string
	for j, l := range r.Labels {
		row := []string{l}
		if eceB != nil {
			row = append(row, num(eceB[j]))
		}
		if eceA != nil {
			row = append(row, num(eceA[j]))
		}
		if r.Temperatures != nil && j < len(r.Temperatures) {
			row = append(row, fmt.Sprintf("%.3f", r.Temperatures[j]))
		}
		rows = append(rows, row)
	}
	b.WriteString(`<div class="ece-table">`)
	b.WriteString(Table(hdr, rows))
	b.WriteString(`</div>`)
	sec.HTML = b.String()
	return sec
}
