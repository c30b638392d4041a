package report

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestLegendOutsidePlot: every legend entry lies right of the plot area, so it cannot
// cover a curve, and the image is widened for it.
func TestLegendOutsidePlot(t *testing.T) {
	t.Parallel()
	svg := LineChart(Chart{ID: "x", Title: "t", Width: 400, Height: 300, LegendBottomLeft: true, Series: []Series{
		{Name: "a long series name that is cut", X: []float64{0, 1}, Y: []float64{0, 1}},
		{Name: "b", X: []float64{0, 1}, Y: []float64{1, 0}, Dashed: true},
		{X: []float64{0, 1}, Y: []float64{0.5, 0.5}}, // unnamed: no legend entry
	}})
	if !strings.Contains(svg, `width="580.00"`) {
		t.Errorf("svg not widened for the legend: %.200s", svg)
	}
	right := 400 - padR
	texts := regexp.MustCompile(`<text class="legend" x="([0-9.]+)"`).FindAllStringSubmatch(svg, -1)
	keys := regexp.MustCompile(`<line class="legend-key" x1="([0-9.]+)"`).FindAllStringSubmatch(svg, -1)
	if len(texts) != 2 || len(keys) != 2 {
		t.Fatalf("%d legend texts, %d keys, want 2", len(texts), len(keys))
	}
	for _, m := range append(texts, keys...) {
		if x, _ := strconv.ParseFloat(m[1], 64); x <= right {
			t.Errorf("legend at x=%v inside the plot area (right edge %v)", x, right)
		}
	}
}

// TestEmptyChartOmitted: a chart without a finite point is a note, not an empty frame
// with a legend.
func TestEmptyChartOmitted(t *testing.T) {
	t.Parallel()
	for name, series := range map[string][]Series{
		"no series": nil,
		"empty":     {{Name: "a"}},
		"NaN only":  {{Name: "a", X: []float64{1, 2}, Y: []float64{math.NaN(), math.Inf(1)}}},
	} {
		out := LineChart(Chart{ID: "e", Title: "Loss", Series: series})
		if strings.Contains(out, "<svg") || !strings.Contains(out, "no data to plot") {
			t.Errorf("%s: %s", name, out)
		}
	}
}

// TestLegendSkipsEmptySeries: a series with no finite point (a validation loss never
// measured) gets no legend entry; a single x value is not drawn on the plot's edge.
func TestLegendSkipsEmptySeries(t *testing.T) {
	t.Parallel()
	svg := LineChart(Chart{ID: "h", Title: "Loss", Series: []Series{
		{Name: "train loss", X: []float64{1}, Y: []float64{0.5}},
		{Name: "val loss", X: []float64{1}, Y: []float64{math.NaN()}},
	}})
	if strings.Contains(svg, "val loss") || !strings.Contains(svg, "train loss") {
		t.Errorf("legend: %s", svg)
	}
	m := regexp.MustCompile(`<circle class="data" cx="([0-9.]+)"`).FindStringSubmatch(svg)
	if m == nil {
		t.Fatalf("no point drawn: %s", svg)
	}
	if x, _ := strconv.ParseFloat(m[1], 64); math.Abs(x-(padL+(560-padL-padR)/2)) > 1 {
		t.Errorf("single point at x=%v, want the plot's centre", x)
	}
}
