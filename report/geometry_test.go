package report

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/report/reporttest"
)

// eightyLabels is an 80-label evaluation like COCO's: names of 3 to 30 characters, a
// few frequent labels and a long tail, labels that co-occur, scores that rank the
// positives imperfectly.
func eightyLabels(n int) Input {
	rng := rand.New(rand.NewPCG(80, 80))
	first := []string{"red", "small", "wooden", "parked", "folding", "electric", "striped", "wild", "baseball", "traffic"}
	second := []string{"car", "chair", "light", "umbrella", "dog", "hydrant", "toothbrush", "glove"}
	labels := make([]string, 80)
	for j := range labels {
		labels[j] = first[j%len(first)] + " " + second[j/len(first)]
	}
	labels[7] = "a rather long label name that is cut short"
	labels[9] = "cup"
	prev := make([]float64, 80)
	for j := range prev {
		prev[j] = 0.5 / math.Pow(float64(j+1), 0.8)
	}
	s := make([][]float32, n)
	tr := make([][]int8, n)
	for i := range s {
		s[i], tr[i] = make([]float32, 80), make([]int8, 80)
		for j := range s[i] {
			p := prev[j]
			if j > 0 && tr[i][j-1] == 1 {
				p = math.Min(1, 4*p) // neighbours co-occur
			}
			if rng.Float64() < p {
				tr[i][j] = 1
			}
			s[i][j] = float32(0.3*float64(tr[i][j]) + 0.7*rng.Float64())
		}
	}
	var h History
	for e := 1; e <= 12; e++ {
		h = append(h, Epoch{Epoch: e, TrainLoss: 0.3 / float64(e), ValLoss: 0.35/float64(e) + 0.01, ValMAP: 0.4 + 0.02*float64(e)})
	}
	return Input{Title: "80-label evaluation", Labels: labels, Scores: s, Truth: tr, History: h,
		Sections: []Section{ReliabilitySection(reliabilityInput(400))}}
}

// checkGeometry fails the test for every overlap the page's geometry check found and
// for every plot of want it did not look at.
func checkGeometry(t *testing.T, p *reporttest.Page, want []string) {
	t.Helper()
	if p.Errors != 0 || len(p.Console) > 0 {
		t.Errorf("%d page errors, console %q:\n%s", p.Errors, p.Console, p.RenderCheck)
	}
	for _, o := range p.Overlaps {
		t.Errorf("overlap: %s", o)
	}
	seen := map[string]bool{}
	for _, id := range p.Plots {
		seen[id] = true
	}
	for _, id := range want {
		if !seen[id] {
			t.Errorf("plot %s not checked (plots: %v)", id, p.Plots)
		}
	}
}

// TestChromiumNoOverlap80 renders an 80-label report in Chromium, takes a screenshot
// and checks from the DOM geometry that no legend entry is crossed by a plotted mark and
// no two texts of a plot overlap (rotated labels as drawn).
func TestChromiumNoOverlap80(t *testing.T) {
	t.Parallel()
	bin := reporttest.Chromium(t)
	page, err := Build(eightyLabels(600))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-table="cooccurrence-pairs"`, `class="scale"`, `class="scale-title"`, `transform="rotate(-60`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("80 labels: the co-occurrence section lacks %s", want)
		}
	}
	dir := t.TempDir()
	shot := filepath.Join(dir, "report80.png")
	p := reporttest.Open(t, bin, dir, page, shot)
	checkGeometry(t, p, plotIDs)
	reporttest.SaveShot(t, shot, "h18-report80.png")
}

// TestChromiumOverlapDetected: the geometry check finds a legend drawn inside the plot
// area, on the curve, a legend inside a filled area (off its outline), and two tick
// labels drawn on one another; the same chart as drawn has none of them.
func TestChromiumOverlapDetected(t *testing.T) {
	t.Parallel()
	bin := reporttest.Chromium(t)
	chart := func(id string) string {
		return LineChart(Chart{ID: id, Title: "diagonal", XLabel: "x", YLabel: "y", XMin: 0, XMax: 1, YMin: 0, YMax: 1,
			Width: 400, Height: 300, Series: []Series{{Name: "y = x", X: []float64{0, 1}, Y: []float64{0, 1}}}})
	}
	good := chart("good")
	bad := chart("bad")
	// Move the legend onto the diagonal at the plot's centre: x = y = 0.5.
	cx, cy := padL+(400-padL-padR)/2, padT+(300-padT-padB)/2
	bad = regexp.MustCompile(`<line class="legend-key" x1="[0-9.]+" y1="[0-9.]+" x2="[0-9.]+" y2="[0-9.]+"`).
		ReplaceAllString(bad, fmt.Sprintf(`<line class="legend-key" x1="%s" y1="%s" x2="%s" y2="%s"`, f(cx-7), f(cy), f(cx+7), f(cy)))
	bad = regexp.MustCompile(`<text class="legend" x="[0-9.]+" y="[0-9.]+"`).
		ReplaceAllString(bad, fmt.Sprintf(`<text class="legend" x="%s" y="%s"`, f(cx+10), f(cy+20)))
	// A second tick label two pixels right of the first x tick.
	m := regexp.MustCompile(`<text class="tick" x="([0-9.]+)" y="([0-9.]+)"`).FindStringSubmatch(bad)
	if m == nil {
		t.Fatal("no tick label")
	}
	bad = strings.Replace(bad, "</svg>", fmt.Sprintf(`<text class="tick" x="%s" y="%s" font-size="11">0.05</text></svg>`, m[1]+"2", m[2]), 1)
	// A filled area with its legend moved well inside it, away from its outline.
	area := LineChart(Chart{ID: "area", Title: "area", XMin: 0, XMax: 1, YMin: 0, YMax: 1, Width: 400, Height: 300,
		Series: []Series{{Name: "share", X: []float64{0, 1}, Y: []float64{0.9, 0.9}, Fill: true}}})
	area = regexp.MustCompile(`<line class="legend-key" x1="[0-9.]+" y1="[0-9.]+" x2="[0-9.]+" y2="[0-9.]+"`).
		ReplaceAllString(area, fmt.Sprintf(`<line class="legend-key" x1="%s" y1="%s" x2="%s" y2="%s"`, f(cx-7), f(cy+40), f(cx+7), f(cy+40)))
	area = regexp.MustCompile(`<text class="legend" x="[0-9.]+" y="[0-9.]+"`).
		ReplaceAllString(area, fmt.Sprintf(`<text class="legend" x="%s" y="%s"`, f(cx+10), f(cy+44)))
	page, err := Build(Input{Labels: []string{"a"}, Scores: [][]float32{{0.5}, {0.2}}, Truth: [][]int8{{1}, {0}},
		Sections: []Section{{Title: "rigged", HTML: plots(good, bad, area)}}})
	if err != nil {
		t.Fatal(err)
	}
	p := reporttest.Open(t, bin, t.TempDir(), page, "")
	var legend, text, inside bool
	for _, o := range p.Overlaps {
		switch {
		case strings.HasPrefix(o, "legend area:") && strings.Contains(o, "inside polygon"):
			inside = true
		case strings.HasPrefix(o, "legend bad:") && strings.Contains(o, "polyline"):
			legend = true
		case strings.HasPrefix(o, "text bad:") && strings.Contains(o, `"0.05"`):
			text = true
		default:
			t.Errorf("unexpected overlap: %s", o)
		}
	}
	if !legend || !text || !inside {
		t.Errorf("legend on a curve found: %v, label overlap found: %v, legend inside an area found: %v; overlaps %q", legend, text, inside, p.Overlaps)
	}
}
