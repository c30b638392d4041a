package report

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestCooccurrenceScaleAndPairs: the grid has a colour scale with numeric ticks; up to
// maxHeatmapLabels labels it names them all; beyond, it names the most frequent ones and
// a table lists the most frequent pairs with integer counts that match a direct count.
func TestCooccurrenceScaleAndPairs(t *testing.T) {
	t.Parallel()
	small := cooccurrence(testInput(t, 100, 6))
	for _, tick := range []string{">0<", ">0.25<", ">0.5<", ">0.75<", ">1<"} {
		if !strings.Contains(small, `font-size="11"`+tick) {
			t.Errorf("colour scale tick %s missing", tick)
		}
	}
	if n := strings.Count(small, `class="scale"`); n < 10 {
		t.Errorf("colour scale has %d steps", n)
	}
	if strings.Contains(small, "cooccurrence-pairs") {
		t.Error("6 labels: pair table shown")
	}
	in := eightyLabels(300)
	big := cooccurrence(in)
	names := regexp.MustCompile(`<text class="tick"[^>]*text-anchor="end"[^>]*>([^<]*)</text>`).FindAllStringSubmatch(big, -1)
	if len(names) != maxHeatmapLabels {
		t.Errorf("80 labels: %d row names in the grid, want %d", len(names), maxHeatmapLabels)
	}
	rows := regexp.MustCompile(`<tr><td>([^<]*) &amp; ([^<]*)</td><td>([0-9]+)</td><td>([0-9]+)</td><td>([0-9]+)</td><td>[01]\.[0-9]{3}</td><td>[01]\.[0-9]{3}</td></tr>`).FindAllStringSubmatch(big, -1)
	if len(rows) != topPairs {
		t.Fatalf("pair table has %d well-formed rows, want %d:\n%.3000s", len(rows), topPairs, big)
	}
	at := map[string]int{}
	for j, l := range in.Labels {
		at[l] = j
	}
	prev := 1 << 30
	for _, r := range rows {
		a, b := at[r[1]], at[r[2]]
		both := 0
		for _, tr := range in.Truth {
			if tr[a] == 1 && tr[b] == 1 {
				both++
			}
		}
		if r[3] != fmt.Sprint(both) {
			t.Errorf("%s & %s: table says %s images, counted %d", r[1], r[2], r[3], both)
		}
		if both > prev {
			t.Errorf("pairs not sorted by count: %d after %d", both, prev)
		}
		prev = both
	}
}

// TestGalleryLegendAndCounts: a gallery with labels explains its colours, each class
// used by a label is named in the legend; count bars print integers.
func TestGalleryLegendAndCounts(t *testing.T) {
	t.Parallel()
	g := Gallery([]GalleryItem{{Caption: "a", Data: []byte("x"), Labels: []GalleryLabel{
		{Name: "tp", Score: 0.9, Predicted: true, Truth: 1}, {Name: "fp", Score: 0.8, Predicted: true, Truth: 0},
		{Name: "fn", Score: 0.1, Truth: 1}, {Name: "unk", Score: 0.7, Predicted: true, Truth: -1}}}})
	if !strings.HasPrefix(g, GalleryLegend) {
		t.Fatalf("gallery does not start with its legend: %.300s", g)
	}
	for _, cls := range []string{"tp", "fp", "fn", "unk"} {
		if !strings.Contains(GalleryLegend, `class="`+cls+`"`) || !strings.Contains(g, `<span class="`+cls+`">`+cls+` `) {
			t.Errorf("class %s: not in the legend or not used", cls)
		}
	}
	if strings.Contains(Gallery([]GalleryItem{{Caption: "plain", Data: []byte("x")}}), "gallery-legend") {
		t.Error("legend on a gallery without labels")
	}
	bars := BarChart("c", "counts", []Bar{{Name: "a", Value: 12, Count: true}, {Name: "b", Value: 0.5}}, 0)
	if !strings.Contains(bars, `>12</text>`) || strings.Contains(bars, "12.000") || !strings.Contains(bars, ">0.500<") {
		t.Errorf("bar labels: %s", bars)
	}
}
