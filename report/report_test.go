package report

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/report/reporttest"
)

// plotIDs are the data-plot ids every full report draws.
var plotIDs = []string{"ap-bars", "pr-curves", "f1-threshold", "score-histogram", "cooccurrence", "history-loss", "history-map", "reliability"}

func testInput(t testing.TB, n, nl int) Input {
	rng := rand.New(rand.NewPCG(1, 2))
	labels := make([]string, nl)
	for j := range labels {
		labels[j] = fmt.Sprintf("label <%d> & co", j)
	}
	labels[nl-1] = "never seen"
	s := make([][]float32, n)
	tr := make([][]int8, n)
	for i := range s {
		s[i] = make([]float32, nl)
		tr[i] = make([]int8, nl)
		for j := range s[i] {
			if j < nl-1 && rng.Float64() < 0.25 {
				tr[i][j] = 1
			}
			if rng.Float64() < 0.05 {
				tr[i][j] = -1
			}
			s[i][j] = float32(0.4*math.Max(0, float64(tr[i][j])) + 0.6*rng.Float64())
		}
	}
	var h History
	for e := 1; e <= 8; e++ {
		h = append(h, Epoch{Epoch: e, TrainLoss: 1 / float64(e), ValLoss: 1.2/float64(e) + 0.05, ValMAP: 0.5 + 0.04*float64(e)})
	}
	h[0].ValLoss = math.NaN()
	// A tiny PNG for the gallery.
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.RGBA{200, 0, 0, 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return Input{
		Title: "Test <report>", Meta: [][2]string{{"data", "test.csv"}},
		Labels: labels, Scores: s, Truth: tr, History: h,
		Sections: []Section{
			{Title: "Comparison", HTML: Table([]string{"model", "mAP"}, [][]string{{"a<b", "0.5"}})},
			ReliabilitySection(reliabilityInput(300)),
			{Title: "Gallery", HTML: Gallery([]GalleryItem{
				{Data: buf.Bytes(), Caption: "img1.png", Labels: []GalleryLabel{{Name: "x", Score: 0.9, Predicted: true, Truth: 1}}},
				{Path: filepath.Join(t.TempDir(), "missing.jpg"), Caption: "missing"},
			})},
		},
	}
}

func TestBuildSelfContained(t *testing.T) {
	t.Parallel()
	page, err := Build(testInput(t, 200, 9))
	if err != nil {
		t.Fatal(err)
	}
	p := string(page)
	for _, id := range plotIDs {
		if !strings.Contains(p, `data-plot="`+id+`"`) {
			t.Errorf("plot %s missing", id)
		}
	}
	// Nothing from the network: the only URL is the SVG namespace.
	rest := strings.ReplaceAll(p, "http://www.w3.org/2000/svg", "")
	if m := regexp.MustCompile(`(?i)(https?:|//[a-z0-9.-]+\.[a-z]{2,}/)`).FindString(rest); m != "" {
		t.Errorf("page references the network: %q", m)
	}
	if strings.Contains(p, "<report>") || strings.Contains(p, "label <0>") || strings.Contains(p, "a<b") {
		t.Error("text not escaped")
	}
	if !strings.Contains(p, "data:image/png;base64,") {
		t.Error("gallery image not embedded")
	}
	if !strings.Contains(p, "no positives") {
		t.Error("class without positives not marked")
	}
}

func TestWriteAtomic(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "r")
	p, err := Write(dir, testInput(t, 50, 4))
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || filepath.Base(p) != "index.html" {
		t.Errorf("dir holds %v, want only index.html", ents)
	}
	if _, err := Write(dir, Input{}); err == nil {
		t.Error("empty input: no error")
	}
	bad := testInput(t, 5, 3)
	bad.Scores[0][0] = 2
	if _, err := Write(dir, bad); err == nil {
		t.Error("bad score: no error")
	}
}

type plotBox struct {
	id             string
	shapes, bw, bh int
	x, y, w, h     int
}

// TestChromiumRender opens the report in headless Chromium: the page must run without
// errors or blocked resources, every plot must have drawn shapes with a non-empty
// bounding box, and every plot's area of a screenshot must hold more than a flat colour.
func TestChromiumRender(t *testing.T) {
	t.Parallel()
	bin := reporttest.Chromium(t)
	dir := t.TempDir()
	p, err := Write(dir, testInput(t, 300, 12))
	if err != nil {
		t.Fatal(err)
	}
	url := "file://" + p
	dom, logs := reporttest.Run(t, bin, "--dump-dom", url)
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") || strings.Contains(line, "Refused") {
			t.Errorf("browser console: %s", line)
		}
	}
	m := regexp.MustCompile(`(?s)<pre id="render-check"[^>]*data-errors="(\d+)"[^>]*>(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("render check missing from the DOM (did the page script run?):\n%.2000s", dom)
	}
	if m[1] != "0" {
		t.Errorf("%s page errors:\n%s", m[1], m[2])
	}
	var boxes []plotBox
	pageH := 0
	for _, line := range strings.Split(m[2], "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "page" {
			pageH, _ = strconv.Atoi(f[2])
		}
		if len(f) != 9 || f[0] != "plot" {
			continue
		}
		var v [7]int
		for k := range v {
			v[k], _ = strconv.Atoi(f[k+2])
		}
		boxes = append(boxes, plotBox{f[1], v[0], v[1], v[2], v[3], v[4], v[5], v[6]})
	}
	seen := map[string]bool{}
	for _, b := range boxes {
		seen[b.id] = true
		if b.shapes < 3 || b.bw < 50 || b.bh < 50 {
			t.Errorf("plot %s looks empty: %d shapes, bbox %dx%d", b.id, b.shapes, b.bw, b.bh)
		}
	}
	for _, id := range plotIDs {
		if !seen[id] {
			t.Errorf("plot %s not rendered", id)
		}
	}
	if pageH <= 0 || pageH > 20000 {
		t.Fatalf("page height %d", pageH)
	}

	shot := filepath.Join(dir, "shot.png")
	reporttest.Run(t, bin, "--screenshot="+shot, fmt.Sprintf("--window-size=1280,%d", pageH+50), url)
	fh, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	img, err := png.Decode(fh)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range boxes {
		r := image.Rect(b.x, b.y, b.x+b.w, b.y+b.h).Intersect(img.Bounds())
		colors := map[color.RGBA]int{}
		for y := r.Min.Y; y < r.Max.Y; y += 2 {
			for x := r.Min.X; x < r.Max.X; x += 2 {
				c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
				colors[c]++
			}
		}
		// A drawn plot has a white background plus axes, text and data in colours.
		white := colors[color.RGBA{255, 255, 255, 255}]
		total := (r.Dx() / 2) * (r.Dy() / 2)
		if r.Empty() || len(colors) < 8 || white == total {
			t.Errorf("plot %s at %v: %d distinct colours in the screenshot: blank", b.id, r, len(colors))
		}
	}
}
