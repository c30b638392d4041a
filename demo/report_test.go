package demo

import (
	"context"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/synth"
)

// fakeResult is a Result with made-up figures, to test the report alone.
func fakeResult() *Result {
	r := &Result{Labels: synth.TargetLabels(), RareLabels: []string{"ring", "purple"}, TrainImages: 10, TestImages: 3,
		BackboneSource: "test", Engine: "test", ImbalanceRatio: 21}
	r.TrainCounts = make([]int, len(r.Labels))
	for j := range r.TrainCounts {
		r.TrainCounts[j] = 40 - 2*j
	}
	r.test = synth.Target(synth.Config{}, 3, 1)
	for i, m := range Methods {
		for k, l := range Losses {
			v := 0.3 + 0.2*float64(i) + 0.05*float64(k)
			row := Row{Method: m, Loss: l, MAP: v, CF1: v - 0.1, OF1: v - 0.05, RareAP: v / 2,
				RarePerClass: []float64{v / 3, math.NaN()}, Curve: []float64{1, 0.6, 0.4}}
			for range r.test {
				s := make([]float32, len(r.Labels))
				for j := range s {
					s[j] = float32(j%3) / 2
				}
				row.scores = append(row.scores, s)
			}
			r.Rows = append(r.Rows, row)
		}
	}
	return r
}

// TestReportInChromium opens the report in headless Chromium: no script error, every
// plot draws something, and a screenshot shows the plot colors.
func TestReportInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not found in CI")
		}
		t.Skip("skipping: chromium not installed (apt-get install chromium)")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, fakeResult().HTML(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	common := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + filepath.Join(dir, "profile"), "--virtual-time-budget=5000"}
	out, err := exec.CommandContext(ctx, chromium, append(common, "--dump-dom", "file://"+page)...).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	if m := regexp.MustCompile(`data-jserror="([^"]*)"`).FindStringSubmatch(dom); m != nil {
		t.Fatalf("script error in the report: %s", m[1])
	}
	if !strings.Contains(dom, `data-plots="4/4"`) {
		m := regexp.MustCompile(`data-plots="[^"]*"`).FindString(dom)
		t.Fatalf("not every plot drew something: %q", m)
	}
	shot := filepath.Join(dir, "shot.png")
	if err := exec.CommandContext(ctx, chromium, append(common, "--window-size=1000,2400", "--screenshot="+shot, "file://"+page)...).Run(); err != nil {
		t.Fatalf("chromium screenshot: %v", err)
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
	// Count pixels of the first two series colors (#c0392b, #2471a3).
	found := map[[3]uint32]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			found[[3]uint32{r >> 8, g >> 8, bl >> 8}]++
		}
	}
	for _, c := range [][3]uint32{{0xc0, 0x39, 0x2b}, {0x24, 0x71, 0xa3}} {
		if found[c] < 200 {
			t.Errorf("screenshot has %d pixels of plot color %x, want a visible plot", found[c], c)
		}
	}
}
