package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the report as the benchmark table: images/s per model and path, each
// as a ratio to the ceiling, GFLOP/s against the measured peak, single-image latency,
// then the ONNX Runtime settings and the conditions of the run.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "images/s, batch %d, %d images per end-to-end pass; (×) = ratio to the ceiling (bare ONNX Runtime on pre-made tensors)\n", r.Batch, r.Images)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tGFLOP/img\tceiling\tengine\tend-to-end\tPyTorch e2e\tGoMLX\tceiling GFLOP/s\te2e GFLOP/s\t% peak (e2e)\tp50 ms\tp99 ms\t")
	cell := func(v, ceil float64) string {
		if v <= 0 {
			return "-"
		}
		if ceil <= 0 {
			return fmt.Sprintf("%.1f", v)
		}
		return fmt.Sprintf("%.1f (%.2f×)", v, v/ceil)
	}
	num := func(f string, v float64) string {
		if v <= 0 {
			return "-"
		}
		return fmt.Sprintf(f, v)
	}
	for _, row := range r.Rows {
		c := row.Ceiling
		pct := 0.0
		if r.PeakGFLOPS > 0 {
			pct = 100 * row.EndToEnd * row.GFLOPPerImg / r.PeakGFLOPS
		}
		gomlx := num("%.2f", row.GoMLX)
		if row.GoMLX > 0 && c > 0 {
			gomlx = fmt.Sprintf("%.2f (%.3f×)", row.GoMLX, row.GoMLX/c)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", row.Model, num("%.2f", row.GFLOPPerImg),
			num("%.1f", c), cell(row.Engine, c), cell(row.EndToEnd, c), cell(row.PyTorch, c), gomlx,
			num("%.0f", c*row.GFLOPPerImg), num("%.0f", row.EndToEnd*row.GFLOPPerImg), num("%.0f%%", pct),
			num("%.1f", row.LatencyP50), num("%.1f", row.LatencyP99))
	}
	tw.Flush()
	fmt.Fprintf(&b, "peak: %.0f GFLOP/s (float32 GEMM 1024³ in ONNX Runtime %s, %d threads, best window)\n", r.PeakGFLOPS, r.ORTVersion, r.Threads)
	fmt.Fprintf(&b, "machine: %d CPUs, GOMAXPROCS %d; ORT intra-op threads %d, loader workers %d; JPEG decoder: %s\n",
		r.NumCPU, r.GOMAXPROCS, r.Threads, r.Workers, r.JPEGDecoder)
	fmt.Fprintf(&b, "load average: %s before, %s after (%.0f s)\n", r.LoadBefore, r.LoadAfter, r.Elapsed)
	for _, row := range r.Rows {
		if row.EndToEndConf != "" {
			fmt.Fprintf(&b, "%s end to end: %s\n", row.Model, row.EndToEndConf)
		}
		if row.PyTorchNote != "" {
			fmt.Fprintf(&b, "%s PyTorch: %s\n", row.Model, row.PyTorchNote)
		}
		for _, e := range row.Errors {
			fmt.Fprintf(&b, "%s ERROR %s\n", row.Model, e)
		}
	}
	if len(r.Settings) > 0 {
		b.WriteString("\nONNX Runtime settings (bare session, pre-made tensors; relative to the default)\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "model\tsetting\tvalue\timages/s\trelative\tnote")
		for _, s := range r.Settings {
			rel := "-"
			if s.Relative > 0 {
				rel = fmt.Sprintf("%.2f×", s.Relative)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Model, s.Name, s.Value, num("%.1f", s.ImagesPS), rel, s.Note)
		}
		tw.Flush()
	}
	_, err := io.WriteString(w, b.String())
	return err
}
