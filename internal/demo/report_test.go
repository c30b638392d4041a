package demo

import (
	"context"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/internal/synth"
	"github.com/multilabel/multilabel/report"
	"github.com/multilabel/multilabel/report/reporttest"
)

// fakeResult is a Result with made-up figures, to test the report alone.
func fakeResult() *Result {
	r := &Result{Labels: synth.TargetLabels(), RareLabels: []string{"ring", "purple"}, TrainImages: 10, TestImages: 6,
		BackboneSource: "test", Engine: "test", ImbalanceRatio: 21}
	r.TrainCounts = make([]int, len(r.Labels))
	for j := range r.TrainCounts {
		r.TrainCounts[j] = 40 - 2*j
	}
	r.test = synth.Target(synth.Config{}, 6, 1)
	for i, m := range Methods {
		for k, l := range Losses {
			v := 0.3 + 0.2*float64(i) + 0.05*float64(k)
			row := Row{Method: m, Loss: l, MAP: v, CF1: v - 0.1, OF1: v - 0.05, RareAP: v / 2,
				RarePerClass: []float64{v / 3, math.NaN()}, Curve: []float64{1, 0.6, 0.4}}
			for n := range r.test {
				s := make([]float32, len(r.Labels))
				for j := range s {
					s[j] = float32((j+n+i)%3) / 2
				}
				row.scores = append(row.scores, s)
			}
			r.Rows = append(r.Rows, row)
		}
	}
	return r
}

func TestReportContent(t *testing.T) {
	t.Parallel()
	page, err := fakeResult().HTML()
	if err != nil {
		t.Fatal(err)
	}
	p := string(page)
	for _, want := range []string{`data-plot="demo-map"`, `data-plot="demo-rare"`, `data-plot="demo-loss"`, `data-plot="demo-tail"`,
		"data:image/png;base64,", "linear-probe", "transfer vs scratch", "AP ring"} {
		if !strings.Contains(p, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if _, err := (&Result{}).HTML(); err == nil {
		t.Error("a result without rows rendered")
	}
	// The comparison and its plots answer first: before the best model's evaluation,
	// with each method and rare-label AP defined.
	cmp, sum := strings.Index(p, "<h2>Comparison: "), strings.Index(p, "<h2>Summary</h2>")
	if cmp < 0 || sum < 0 || cmp > sum || strings.Index(p, `data-plot="demo-map"`) > sum {
		t.Errorf("comparison at %d, summary at %d: the comparison must come first", cmp, sum)
	}
	for _, want := range []string{"scratch: the whole network", "linear probe: the pretrained backbone frozen", "fine-tune: the probe", "Rare-label AP: ", "compared at the top"} {
		if !strings.Contains(p, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestReportInChromium runs the demo at its unit-test size and opens its report in
// headless Chromium: no script error, every plot draws something, a screenshot is not
// blank, and, from the DOM geometry, no legend entry is crossed by a plotted mark and no
// two texts of a plot overlap (package reporttest).
func TestReportInChromium(t *testing.T) {
	t.Parallel()
	bin := reporttest.Chromium(t)
	cfg := tiny()
	cfg.OutDir = t.TempDir()
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(r.ReportPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), report.GalleryLegend) {
		t.Error("the gallery does not explain its colours")
	}
	dir := t.TempDir()
	shot := filepath.Join(dir, "demo.png")
	p := reporttest.Open(t, bin, dir, html, shot)
	if p.Errors != 0 || len(p.Console) > 0 {
		t.Fatalf("%d errors on the page, console %q: %s", p.Errors, p.Console, p.RenderCheck)
	}
	for _, o := range p.Overlaps {
		t.Errorf("overlap: %s", o)
	}
	plots := 0
	for _, line := range strings.Split(p.RenderCheck, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[0] != "plot" {
			continue
		}
		plots++
		shapes, _ := strconv.Atoi(f[2])
		w, _ := strconv.Atoi(f[3])
		h, _ := strconv.Atoi(f[4])
		if shapes == 0 || w == 0 || h == 0 {
			t.Errorf("blank plot: %s", line)
		}
	}
	if plots < 8 || len(p.Plots) != plots {
		t.Errorf("%d plots drawn, %d checked for overlaps; want the report's own and the demo's four", plots, len(p.Plots))
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	colors := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colors[(r>>11)<<10|(g>>11)<<5|bl>>11] = true
		}
	}
	if len(colors) < 20 {
		t.Errorf("screenshot has %d colours: blank page?", len(colors))
	}
	reporttest.SaveShot(t, shot, "h18-demo.png")
}
