package report

import (
	"fmt"
	"math"
	"strings"
)

// Palette is the sequence of series colours used by the charts.
var Palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"}

// Series is one line of a LineChart.
type Series struct {
	Name string
	X, Y []float64 // same length; non-finite points are skipped
	// Color is a CSS colour; "" picks the next Palette entry.
	Color string
	// Step draws a staircase (for histograms and PR curves) instead of straight segments.
	Step bool
	// Fill shades the area under the line.
	Fill bool
	// Dashed draws a dashed line.
	Dashed bool
}

// Chart describes a LineChart. Axis ranges with Min == Max are fitted to the data.
type Chart struct {
	ID             string // data-plot attribute, for tests and styling
	Title          string
	XLabel, YLabel string
	XMin, XMax     float64
	YMin, YMax     float64
	Width, Height  int // 0: 560×340
	Series         []Series
	// VLines draws dotted vertical markers at these x values (e.g. the threshold).
	VLines []float64
	// LegendBottomLeft is kept for compatibility and has no effect: the legend is
	// always drawn outside the plot area, to its right, so it never covers a curve.
	LegendBottomLeft bool
}

// legendWidth is the room added right of a chart's plot area for its legend.
const legendWidth = 180.0

const (
	padL, padR, padT, padB = 56.0, 16.0, 34.0, 46.0
)

func f(v float64) string { return fmt.Sprintf("%.2f", v) }

// LineChart returns an inline <svg> element drawing the chart, with axes, ticks and a
// legend right of the plot area (Width is the plot's part; the legend widens the
// image). It needs no script or external resource. A chart without a single finite
// point is not drawn: a one-line note says so instead.
func LineChart(c Chart) string {
	if !hasPoints(c.Series) {
		return `<p class="note" data-empty-plot="` + esc(c.ID) + `">` + esc(c.Title) + `: no data to plot.</p>`
	}
	w, h := float64(c.Width), float64(c.Height)
	if w == 0 {
		w = 560
	}
	if h == 0 {
		h = 340
	}
	xmin, xmax, ymin, ymax := c.XMin, c.XMax, c.YMin, c.YMax
	if xmin == xmax || ymin == ymax {
		lx, hx, ly, hy := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
		for _, s := range c.Series {
			for i := range s.X {
				if i < len(s.Y) && finite(s.X[i]) && finite(s.Y[i]) {
					lx, hx = math.Min(lx, s.X[i]), math.Max(hx, s.X[i])
					ly, hy = math.Min(ly, s.Y[i]), math.Max(hy, s.Y[i])
				}
			}
		}
		if xmin == xmax {
			xmin, xmax = lx, hx
			if xmin == xmax { // one x value (one epoch): centre it
				xmin, xmax = xmin-1, xmax+1
			}
		}
		if ymin == ymax {
			ymin, ymax = math.Min(0, ly), hy
			ymax += 0.05 * (ymax - ymin)
		}
	}
	if !finite(xmin) || !finite(xmax) || xmin >= xmax {
		xmin, xmax = 0, 1
	}
	if !finite(ymin) || !finite(ymax) || ymin >= ymax {
		ymin, ymax = 0, 1
	}
	pw, ph := w-padL-padR, h-padT-padB
	px := func(x float64) float64 { return padL + (x-xmin)/(xmax-xmin)*pw }
	py := func(y float64) float64 { return padT + ph - (y-ymin)/(ymax-ymin)*ph }

	total := w
	// Series without a finite point draw nothing and get no legend entry.
	var shown []Series
	for _, s := range c.Series {
		if !hasPoints([]Series{s}) {
			s.Name = ""
		}
		shown = append(shown, s)
	}
	if named(shown) > 0 {
		total += legendWidth
	}
	var b strings.Builder
	svgOpen(&b, c.ID, c.Title, total, h)
	axes(&b, c.XLabel, c.YLabel, w, h, xmin, xmax, ymin, ymax, px, py)
	for _, v := range c.VLines {
		if v >= xmin && v <= xmax {
			fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#555" stroke-dasharray="2,3"/>`, f(px(v)), f(padT), f(px(v)), f(padT+ph))
		}
	}
	for k, s := range c.Series {
		col := s.Color
		if col == "" {
			col = Palette[k%len(Palette)]
		}
		var pts []string
		var first, last [2]float64
		for i := range s.X {
			if i >= len(s.Y) || !finite(s.X[i]) || !finite(s.Y[i]) {
				continue
			}
			x, y := px(clamp(s.X[i], xmin, xmax)), py(clamp(s.Y[i], ymin, ymax))
			if len(pts) == 0 {
				first = [2]float64{x, y}
			} else if s.Step {
				pts = append(pts, f(x)+","+f(last[1]))
			}
			pts = append(pts, f(x)+","+f(y))
			last = [2]float64{x, y}
		}
		if len(pts) == 0 {
			continue
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6,4"`
		}
		if s.Fill {
			base := py(clamp(0, ymin, ymax))
			fmt.Fprintf(&b, `<polygon class="data" points="%s,%s %s %s,%s" fill="%s" fill-opacity="0.25" stroke="none"/>`,
				f(first[0]), f(base), strings.Join(pts, " "), f(last[0]), f(base), col)
		}
		if len(pts) == 1 {
			fmt.Fprintf(&b, `<circle class="data" cx="%s" cy="%s" r="3" fill="%s"/>`, f(first[0]), f(first[1]), col)
		} else {
			fmt.Fprintf(&b, `<polyline class="data" points="%s" fill="none" stroke="%s" stroke-width="1.8"%s/>`, strings.Join(pts, " "), col, dash)
		}
	}
	legend(&b, shown, w)
	b.WriteString("</svg>")
	return b.String()
}

func svgOpen(b *strings.Builder, id, title string, w, h float64) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="plot" data-plot="%s" width="%s" height="%s" viewBox="0 0 %s %s" role="img" aria-label="%s">`,
		esc(id), f(w), f(h), f(w), f(h), esc(title))
	fmt.Fprintf(b, `<rect x="0" y="0" width="%s" height="%s" fill="#fff"/>`, f(w), f(h))
	fmt.Fprintf(b, `<text class="title" x="%s" y="20" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`, f(w/2), esc(title))
}

func axes(b *strings.Builder, xl, yl string, w, h, xmin, xmax, ymin, ymax float64, px, py func(float64) float64) {
	ph := h - padT - padB
	fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#333"/>`, f(padL), f(padT), f(w-padL-padR), f(ph))
	for _, t := range ticks(xmin, xmax) {
		x := px(t)
		fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#eee"/>`, f(x), f(padT), f(x), f(padT+ph))
		fmt.Fprintf(b, `<text class="tick" x="%s" y="%s" text-anchor="middle" font-size="11">%s</text>`, f(x), f(padT+ph+15), tickLabel(t))
	}
	for _, t := range ticks(ymin, ymax) {
		y := py(t)
		fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#eee"/>`, f(padL), f(y), f(w-padR), f(y))
		fmt.Fprintf(b, `<text class="tick" x="%s" y="%s" text-anchor="end" font-size="11">%s</text>`, f(padL-5), f(y+4), tickLabel(t))
	}
	fmt.Fprintf(b, `<text class="axis-title" x="%s" y="%s" text-anchor="middle" font-size="12">%s</text>`, f(padL+(w-padL-padR)/2), f(h-8), esc(xl))
	fmt.Fprintf(b, `<text class="axis-title" x="14" y="%s" text-anchor="middle" font-size="12" transform="rotate(-90 14 %s)">%s</text>`, f(padT+ph/2), f(padT+ph/2), esc(yl))
}

// legend draws the named series' keys in a column right of the plot area, whose right
// edge is at w-padR.
func legend(b *strings.Builder, series []Series, w float64) {
	y := padT + 8
	x := w - padR + 12
	for k, s := range series {
		if s.Name == "" {
			continue
		}
		col := s.Color
		if col == "" {
			col = Palette[k%len(Palette)]
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="4,3"`
		}
		fmt.Fprintf(b, `<line class="legend-key" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="3"%s/>`, f(x), f(y-1), f(x+14), f(y-1), col, dash)
		fmt.Fprintf(b, `<text class="legend" x="%s" y="%s" font-size="11">%s</text>`, f(x+18), f(y+3), esc(trunc(s.Name, 26)))
		y += 15
	}
}

func named(series []Series) int {
	n := 0
	for _, s := range series {
		if s.Name != "" {
			n++
		}
	}
	return n
}

// hasPoints reports whether any series has a finite point.
func hasPoints(series []Series) bool {
	for _, s := range series {
		for i := range s.X {
			if i < len(s.Y) && finite(s.X[i]) && finite(s.Y[i]) {
				return true
			}
		}
	}
	return false
}

// ticks returns about five round tick values covering [lo, hi].
func ticks(lo, hi float64) []float64 {
	span := hi - lo
	step := math.Pow(10, math.Floor(math.Log10(span/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= 6 {
			step *= m
			break
		}
	}
	var out []float64
	for t := math.Ceil(lo/step) * step; t <= hi+step*1e-9; t += step {
		out = append(out, t)
	}
	return out
}

func tickLabel(t float64) string {
	if math.Abs(t) < 1e-12 {
		return "0"
	}
	s := fmt.Sprintf("%.4g", t)
	return s
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func trunc(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Bar is one bar of a BarChart.
type Bar struct {
	Name  string
	Value float64
	// Note is shown after the bar instead of the value (e.g. "no positives").
	Note string
	// Count prints the value as an integer (a count of images or positives) instead
	// of with three decimals.
	Count bool
}

// BarChart returns an inline <svg> with one horizontal bar per entry, in the given
// order, on a scale from 0 to max (0: the largest value).
func BarChart(id, title string, bars []Bar, max float64) string {
	if max <= 0 {
		for _, b := range bars {
			if finite(b.Value) {
				max = math.Max(max, b.Value)
			}
		}
		if max <= 0 {
			max = 1
		}
	}
	const rowH, left, right = 16.0, 170.0, 70.0
	w := 640.0
	h := padT + 10 + rowH*float64(len(bars)) + 10
	var b strings.Builder
	svgOpen(&b, id, title, w, h)
	bw := w - left - right
	for i, bar := range bars {
		y := padT + 10 + rowH*float64(i)
		fmt.Fprintf(&b, `<text class="tick" x="%s" y="%s" text-anchor="end" font-size="11">%s</text>`, f(left-6), f(y+rowH-4), esc(trunc(bar.Name, 26)))
		v := bar.Value
		if !finite(v) || v < 0 {
			v = 0
		}
		lw := bw * math.Min(v, max) / max
		col := Palette[0]
		label, tip := fmt.Sprintf("%.3f", bar.Value), fmt.Sprintf("%.4f", bar.Value)
		if bar.Count {
			label = fmt.Sprintf("%.0f", bar.Value)
			tip = label
		}
		if bar.Note == "" && lw > 0 {
			fmt.Fprintf(&b, `<rect class="data" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %s</title></rect>`, f(left), f(y+2), f(lw), f(rowH-4), col, esc(bar.Name), tip)
		}
		if bar.Note != "" {
			label = bar.Note
		}
		fmt.Fprintf(&b, `<text class="value" x="%s" y="%s" font-size="11" fill="#333">%s</text>`, f(left+lw+4), f(y+rowH-4), esc(label))
	}
	fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333"/>`, f(left), f(padT+6), f(left), f(h-6))
	b.WriteString("</svg>")
	return b.String()
}

// heatmap draws an n×n matrix of values in [0,1] with row and column names (column
// names rotated, so neighbours do not overlap) and a colour scale right of the grid;
// cell titles (tooltips) come from tip. Grey cells have no value (scale note noValue).
func heatmap(id, title, scaleTitle, noValue string, names []string, val func(r, c int) float64, tip func(r, c int) string) string {
	n := len(names)
	cell := math.Max(9, math.Min(24, 480/float64(max(n, 1))))
	fs := math.Min(11, cell-0.5)
	left, top := 150.0, padT+110
	grid := cell * float64(n)
	const scaleW, scaleGap, scaleRoom = 14.0, 24.0, 160.0
	w := left + grid + scaleGap + scaleRoom
	scaleH := math.Max(grid, 120)
	h := top + scaleH + 40
	var b strings.Builder
	svgOpen(&b, id, title, w, h)
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			v := val(r, c)
			col := "#ddd"
			if finite(v) {
				col = heatColor(v)
			}
			fmt.Fprintf(&b, `<rect class="data" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>`,
				f(left+cell*float64(c)), f(top+cell*float64(r)), f(cell), f(cell), col, esc(tip(r, c)))
		}
	}
	for i, nm := range names {
		fmt.Fprintf(&b, `<text class="tick" x="%s" y="%s" text-anchor="end" font-size="%s">%s</text>`, f(left-4), f(top+cell*float64(i)+cell/2+fs*0.35), f(fs), esc(trunc(nm, 22)))
		x, y := left+cell*float64(i)+cell/2+fs*0.35, top-4
		fmt.Fprintf(&b, `<text class="tick" x="%s" y="%s" font-size="%s" transform="rotate(-60 %s %s)">%s</text>`, f(x), f(y), f(fs), f(x), f(y), esc(trunc(nm, 18)))
	}
	fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#333"/>`, f(left), f(top), f(grid), f(grid))
	// The colour scale: a bar from 1 (top) to 0 (bottom) with ticks every 0.25.
	sx, sh := left+grid+scaleGap, math.Min(scaleH, 200)
	const steps = 40
	for k := 0; k < steps; k++ {
		v := 1 - (float64(k)+0.5)/steps
		fmt.Fprintf(&b, `<rect class="scale" x="%s" y="%s" width="%s" height="%s" fill="%s"/>`, f(sx), f(top+sh*float64(k)/steps), f(scaleW), f(sh/steps+0.5), heatColor(v))
	}
	fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#333"/>`, f(sx), f(top), f(scaleW), f(sh))
	for _, t := range []float64{0, 0.25, 0.5, 0.75, 1} {
		y := top + sh*(1-t)
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333"/>`, f(sx+scaleW), f(y), f(sx+scaleW+4), f(y))
		fmt.Fprintf(&b, `<text class="tick" x="%s" y="%s" font-size="11">%s</text>`, f(sx+scaleW+7), f(y+4), tickLabel(t))
	}
	tx, ty := sx+scaleW+50, top+sh/2
	fmt.Fprintf(&b, `<text class="scale-title" x="%s" y="%s" text-anchor="middle" font-size="11" transform="rotate(-90 %s %s)">%s</text>`, f(tx), f(ty), f(tx), f(ty), esc(scaleTitle))
	ny := top + sh + 16
	fmt.Fprintf(&b, `<rect class="scale" x="%s" y="%s" width="%s" height="10" fill="#ddd" stroke="#333"/>`, f(sx), f(ny), f(scaleW))
	fmt.Fprintf(&b, `<text class="scale-note" x="%s" y="%s" font-size="11">%s</text>`, f(sx+scaleW+7), f(ny+9), esc(noValue))
	b.WriteString("</svg>")
	return b.String()
}

// heatColor maps [0,1] from white to dark blue.
func heatColor(v float64) string {
	v = clamp(v, 0, 1)
	r := int(255 - v*(255-8))
	g := int(255 - v*(255-48))
	bl := int(255 - v*(255-107))
	return fmt.Sprintf("#%02x%02x%02x", r, g, bl)
}
