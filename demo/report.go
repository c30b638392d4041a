package demo

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"image"
	"image/png"
	"math"
	"strings"

	"golang.org/x/image/draw"
)

var rowColors = []string{"#c0392b", "#e67e22", "#2471a3", "#5dade2", "#1e8449", "#58d68d"}

// barChart draws grouped vertical bars: one group per name, one bar per series.
func barChart(title string, groups []string, series []string, values [][]float64, maxV float64) string {
	const w, h, left, bottom, top = 640, 240, 40, 50, 24
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`, w, h, w, h)
	fmt.Fprintf(&b, `<text x="%d" y="16" font-size="13" font-weight="bold">%s</text>`, left, html.EscapeString(title))
	plotH := float64(h - bottom - top)
	for k := 0; k <= 4; k++ {
		y := float64(top) + plotH*(1-float64(k)/4)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="4" y="%.1f" font-size="10">%.2f</text>`,
			left, w-10, y, y, y+3, maxV*float64(k)/4)
	}
	gw := float64(w-left-10) / float64(max(1, len(groups)))
	bw := gw * 0.8 / float64(max(1, len(series)))
	for g, name := range groups {
		x0 := float64(left) + gw*float64(g) + gw*0.1
		for s := range series {
			v := values[g][s]
			if math.IsNaN(v) {
				v = 0
			}
			bh := plotH * math.Min(1, v/maxV)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %.3f</title></rect>`,
				x0+bw*float64(s), float64(top)+plotH-bh, bw*0.95, bh, rowColors[s%len(rowColors)],
				html.EscapeString(name), html.EscapeString(series[s]), v)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" text-anchor="middle">%s</text>`, x0+gw*0.4, h-bottom+14, html.EscapeString(name))
	}
	for s, name := range series {
		x := left + (s%3)*200
		y := h - 18 + (s/3)*12
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="9" height="9" fill="%s"/><text x="%d" y="%d" font-size="10">%s</text>`,
			x, y-8, rowColors[s%len(rowColors)], x+12, y, html.EscapeString(name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// lineChart draws one polyline per series, each scaled to its own maximum (losses of
// different kinds have different scales; the shape is what matters).
func lineChart(title string, series []string, curves [][]float64) string {
	const w, h, left, top, bottom = 640, 220, 40, 24, 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`, w, h, w, h)
	fmt.Fprintf(&b, `<text x="%d" y="16" font-size="13" font-weight="bold">%s</text>`, left, html.EscapeString(title))
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#ccc"/>`, left, top, w-left-10, h-top-bottom)
	for s, c := range curves {
		if len(c) == 0 {
			continue
		}
		mx := 0.0
		for _, v := range c {
			mx = math.Max(mx, v)
		}
		if mx == 0 {
			mx = 1
		}
		var pts []string
		for i, v := range c {
			x := float64(left) + float64(w-left-10)*float64(i)/float64(max(1, len(c)-1))
			y := float64(top) + float64(h-top-bottom)*(1-v/mx)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke-width="2" stroke="%s" points="%s"/>`, rowColors[s%len(rowColors)], strings.Join(pts, " "))
	}
	for s, name := range series {
		x := left + (s%3)*200
		y := h - 18 + (s/3)*12
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="9" height="9" fill="%s"/><text x="%d" y="%d" font-size="10">%s</text>`,
			x, y-8, rowColors[s%len(rowColors)], x+12, y, html.EscapeString(name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func pngDataURI(img image.Image, scale int) string {
	b := img.Bounds()
	big := image.NewRGBA(image.Rect(0, 0, b.Dx()*scale, b.Dy()*scale))
	draw.NearestNeighbor.Scale(big, big.Bounds(), img, b, draw.Src, nil)
	var buf bytes.Buffer
	_ = png.Encode(&buf, big)
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

// HTML renders the report: the table, plots (mAP, rare-label AP, training curves, label
// frequencies) and a few test images with their true and predicted labels. It is one
// self-contained file (inline SVG and PNG), deterministic apart from the times.
func (r *Result) HTML() []byte {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>multilabel demo</title><style>
body{font-family:sans-serif;margin:24px;max-width:980px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,td:nth-child(2){text-align:left}.imgs{display:flex;flex-wrap:wrap;gap:12px}.card{width:200px;font-size:12px}
.ok{color:#1e8449}.miss{color:#c0392b}.fp{color:#999;text-decoration:line-through}</style></head><body>`)
	b.WriteString(`<h1>multilabel demo: transfer learning vs training from scratch</h1>`)
	fmt.Fprintf(&b, `<p>Synthetic multi-label world: %d training and %d test images, %d labels, imbalance ratio %.1f. Backbone: %s. Feature engine: %s. Total time %.1fs.</p>`,
		r.TrainImages, r.TestImages, len(r.Labels), r.ImbalanceRatio, html.EscapeString(r.BackboneSource), html.EscapeString(r.Engine), r.Seconds)
	b.WriteString(`<h2>Results on the held-out test set</h2><table><tr><th>method</th><th>loss</th><th>mAP</th><th>CF1</th><th>OF1</th><th>rare AP</th>`)
	for _, l := range r.RareLabels {
		fmt.Fprintf(&b, `<th>AP %s</th>`, html.EscapeString(l))
	}
	b.WriteString(`<th>time</th></tr>`)
	for _, row := range r.Rows {
		fmt.Fprintf(&b, `<tr><td>%s</td><td>%s</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%s</td>`, row.Method, row.Loss, row.MAP, row.CF1, row.OF1, num(row.RareAP))
		for _, v := range row.RarePerClass {
			fmt.Fprintf(&b, `<td>%s</td>`, num(v))
		}
		fmt.Fprintf(&b, `<td>%.1fs</td></tr>`, row.Seconds)
	}
	b.WriteString(`</table><pre>` + html.EscapeString(r.Summary()) + `</pre>`)

	var series []string
	var curves [][]float64
	mapVals := make([][]float64, 0)
	for _, row := range r.Rows {
		series = append(series, row.Method+" / "+row.Loss)
		curves = append(curves, row.Curve)
	}
	// mAP, CF1, OF1 and rare AP per model.
	metrics := []string{"mAP", "CF1", "OF1", "rare AP"}
	for _, m := range metrics {
		v := make([]float64, len(r.Rows))
		for i, row := range r.Rows {
			v[i] = map[string]float64{"mAP": row.MAP, "CF1": row.CF1, "OF1": row.OF1, "rare AP": row.RareAP}[m]
		}
		mapVals = append(mapVals, v)
	}
	b.WriteString(`<h2>Plots</h2>`)
	b.WriteString(barChart("Test figures per model", metrics, series, mapVals, 1))
	rare := make([][]float64, len(r.RareLabels))
	for k := range rare {
		rare[k] = make([]float64, len(r.Rows))
		for i, row := range r.Rows {
			rare[k][i] = row.RarePerClass[k]
		}
	}
	b.WriteString(barChart("AP of the rarest labels", r.RareLabels, series, rare, 1))
	b.WriteString(lineChart("Training loss per epoch (each curve scaled to its maximum)", series, curves))
	counts := make([][]float64, len(r.Labels))
	mx := 1.0
	for j, c := range r.TrainCounts {
		counts[j] = []float64{float64(c)}
		mx = math.Max(mx, float64(c))
	}
	b.WriteString(barChart("Training positives per label (the long tail)", r.Labels, []string{"positives"}, counts, mx))

	// Predicted test images from the best model.
	best := -1
	for i, row := range r.Rows {
		if best < 0 || row.MAP > r.Rows[best].MAP {
			best = i
		}
	}
	if best >= 0 && len(r.test) > 0 {
		row := r.Rows[best]
		fmt.Fprintf(&b, `<h2>Predictions of the best model (%s / %s) on test images</h2>`, row.Method, row.Loss)
		b.WriteString(`<p><span class="ok">green</span>: correct, <span class="miss">red</span>: missed, <span class="fp">grey struck</span>: false alarm (threshold 0.5).</p><div class="imgs">`)
		for i := 0; i < min(12, len(r.test)); i++ {
			s := r.test[i]
			fmt.Fprintf(&b, `<div class="card"><img width="192" height="192" alt="test image %d" src="%s"><br>`, i, pngDataURI(s.Image, 8))
			for j, l := range r.Labels {
				pred := row.scores[i][j] >= 0.5
				switch {
				case s.Truth[j] == 1 && pred:
					fmt.Fprintf(&b, `<span class="ok">%s %.2f</span> `, l, row.scores[i][j])
				case s.Truth[j] == 1:
					fmt.Fprintf(&b, `<span class="miss">%s %.2f</span> `, l, row.scores[i][j])
				case pred:
					fmt.Fprintf(&b, `<span class="fp">%s %.2f</span> `, l, row.scores[i][j])
				}
			}
			b.WriteString(`</div>`)
		}
		b.WriteString(`</div>`)
	}
	// Self-check for browsers and tests: count the plots that drew something visible.
	b.WriteString(`<script>
window.addEventListener("error", e => { document.body.dataset.jserror = e.message; });
window.addEventListener("load", () => {
  let drawn = 0;
  for (const svg of document.querySelectorAll("svg.plot")) {
    let visible = false;
    for (const el of svg.querySelectorAll("rect,polyline")) {
      const bb = el.getBBox();
      if (bb.width > 0 && bb.height > 0 && el.getAttribute("fill") !== "none") { visible = true; }
      if (el.tagName === "polyline" && bb.width > 0) { visible = true; }
    }
    if (visible) { drawn++; }
  }
  document.body.dataset.plots = drawn + "/" + document.querySelectorAll("svg.plot").length;
});
</script></body></html>`)
	return []byte(b.String())
}
