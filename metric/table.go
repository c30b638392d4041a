package metric

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// WriteTable writes r as a human-readable table: one line per label (AP, positives,
// precision, recall, F1 at its threshold) followed by the summary figures.
func WriteTable(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// tabwriter aligns every column right; pad the labels to read left-aligned.
	lw := len("label")
	for _, c := range r.PerClass {
		lw = max(lw, utf8.RuneCountInString(c.Label))
	}
	pad := func(s string) string { return s + strings.Repeat(" ", lw-utf8.RuneCountInString(s)) }
	fmt.Fprintf(tw, "%s\tAP\tpositives\tunknown\tthreshold\tprecision\trecall\tF1\t\n", pad("label"))
	for _, c := range r.PerClass {
		ap := "-"
		if c.HasAP {
			ap = fmt.Sprintf("%.4f", c.AP)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3f\t%.4f\t%.4f\t%.4f\t\n", pad(c.Label), ap, c.Positives, c.Unknown, c.Threshold, c.Precision, c.Recall, c.F1)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	mAP := "- (no class has a positive)"
	if r.HasMAP {
		mAP = fmt.Sprintf("%.4f", r.MAP)
		if r.MAPCI != nil {
			mAP += fmt.Sprintf("  [%.4f, %.4f] %.0f%% bootstrap CI", r.MAPCI.Lo, r.MAPCI.Hi, 100*r.MAPCI.Level)
		}
	}
	th := fmt.Sprintf("%g", r.Threshold)
	if r.Thresholds != nil {
		th = "per class"
	}
	fmt.Fprintf(w, "\n%d images, %d labels, threshold %s\n", r.NImages, r.NLabels, th)
	fmt.Fprintf(w, "mAP %s\n", mAP)
	fmt.Fprintf(w, "CP %.4f  CR %.4f  CF1 %.4f  OP %.4f  OR %.4f  OF1 %.4f\n", r.CP, r.CR, r.CF1, r.OP, r.OR, r.OF1)
	if r.TopK > 0 {
		fmt.Fprintf(w, "top-%d: CP %.4f  CR %.4f  CF1 %.4f  OP %.4f  OR %.4f  OF1 %.4f\n", r.TopK, r.CPTopK, r.CRTopK, r.CF1TopK, r.OPTopK, r.ORTopK, r.OF1TopK)
	}
	fmt.Fprintf(w, "macro-F1 %.4f  micro-F1 %.4f\n", r.MacroF1, r.MicroF1)
	_, err := fmt.Fprintf(w, "hamming loss %.4f  subset accuracy %.4f  coverage %.4f  ranking loss %.4f  LRAP %.4f\n",
		r.HammingLoss, r.SubsetAccuracy, r.Coverage, r.RankingLoss, r.LRAP)
	return err
}
