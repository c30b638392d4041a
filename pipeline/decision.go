package pipeline

import (
	"fmt"
	"math"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/calib"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/headparams"
)

// parseDecision reads TrainConfig.Decision; a rule the bundle's thresholds cannot carry
// (topk, which limits the number of labels) is refused.
func parseDecision(s string) (calib.Decision, error) {
	d, err := calib.ParseDecision(s)
	if err != nil {
		return d, err
	}
	if d.Kind == calib.TopK {
		return d, errkind.BadInput("decision %q: the bundle stores per-label thresholds only; use predict --top-k for a top-K rule", s)
	}
	return d, nil
}

// tuneThresholds chooses the per-label thresholds on the validation scores with the
// configured decision rule, logging every label that fell back to its F1 threshold. The
// returned bundle.Decision records the rule, the F1 thresholds and the validation
// curves, so predict, eval and serve can switch rules later.
func (r *run) tuneThresholds(stage string, scores [][]float32, truth [][]int8, labels []string) ([]float64, *bundle.Decision, error) {
	d, err := parseDecision(r.cfg.Decision)
	if err != nil {
		return nil, nil, err
	}
	f1, _, err := calib.Thresholds(calib.Decision{Kind: calib.F1}, scores, truth)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", stage, err)
	}
	curves := calib.Curves(scores, truth)
	th, notes, err := calib.FromCurves(d, curves, f1)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", stage, err)
	}
	for _, n := range notes {
		r.log.Warn(stage+": decision rule fallback", "rule", d.String(), "note", n)
	}
	if d.Kind != calib.F1 {
		r.log.Info(stage+": thresholds chosen by the decision rule", "rule", d.String(), "labels", len(labels))
	}
	return th, &bundle.Decision{Rule: d.String(), F1Thresholds: f1, Curves: curves}, nil
}

// Calibration records the per-label calibration map folded into the head (Method
// "temperature": Temperatures, z → z/T; "platt": PlattA and PlattB, z → a·z + b) and
// the mean per-label expected calibration error (15 bins) before and after, on the
// validation and test shares (test figures are 0 without a test share), and what the
// map was fitted on ("validation" or "out-of-fold (K folds)", with the image count).
type Calibration struct {
	Method        string    `json:"method,omitempty"`
	Temperatures  []float64 `json:"temperatures,omitempty"`
	PlattA        []float64 `json:"platt_a,omitempty"`
	PlattB        []float64 `json:"platt_b,omitempty"`
	FitOn         string    `json:"fit_on,omitempty"`
	FitImages     int       `json:"fit_images,omitempty"`
	ValECEBefore  float64   `json:"val_ece_before"`
	ValECEAfter   float64   `json:"val_ece_after"`
	TestECEBefore float64   `json:"test_ece_before,omitempty"`
	TestECEAfter  float64   `json:"test_ece_after,omitempty"`
}

// calibrateMethod resolves TrainConfig.CalibrateMethod ("" is platt).
func calibrateMethod(s string) (string, error) {
	switch s {
	case "", calib.PlattMethod:
		return calib.PlattMethod, nil
	case calib.TemperatureMethod:
		return s, nil
	}
	return "", errkind.BadInput("calibrate %q: want %s or %s", s, calib.PlattMethod, calib.TemperatureMethod)
}

// affine returns the map z → a·z + b the calibration folded into the head (nil, nil
// for a nil calibration: the identity).
func (c *Calibration) affine() (a, b []float64) {
	if c == nil {
		return nil, nil
	}
	if c.Method == calib.PlattMethod {
		return c.PlattA, c.PlattB
	}
	a = make([]float64, len(c.Temperatures))
	for i, t := range c.Temperatures {
		a[i] = 1 / t
	}
	return a, nil
}

// record stores the calibration in the bundle's decision record (informational: the
// map is already in the head).
func (c *Calibration) record(d *bundle.Decision) {
	d.Calibration = c.Method
	d.Temperatures, d.PlattA, d.PlattB = c.Temperatures, c.PlattA, c.PlattB
}

// fitCalibration fits the configured map on (logits, truth) and returns it with the
// ECE before and after on the validation logits vl and the test logits tl (nil: none).
func (r *run) fitCalibration(fitL [][]float32, fitY [][]int8, on string, vl, tl [][]float32) (*Calibration, error) {
	m, err := calibrateMethod(r.cfg.CalibrateMethod)
	if err != nil {
		return nil, err
	}
	c := &Calibration{Method: m, FitOn: on, FitImages: len(fitY)}
	if m == calib.PlattMethod {
		c.PlattA, c.PlattB, err = calib.FitPlatt(fitL, fitY)
	} else {
		c.Temperatures, err = calib.FitTemperatures(fitL, fitY)
	}
	if err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	sa, sb := c.affine()
	c.ValECEBefore = meanFinite(calib.ECE(calib.ApplyAffine(vl, nil, nil), r.sets[1].y, 15))
	c.ValECEAfter = meanFinite(calib.ECE(calib.ApplyAffine(vl, sa, sb), r.sets[1].y, 15))
	if len(tl) > 0 && len(tl) == len(r.sets[2].y) {
		c.TestECEBefore = meanFinite(calib.ECE(calib.ApplyAffine(tl, nil, nil), r.sets[2].y, 15))
		c.TestECEAfter = meanFinite(calib.ECE(calib.ApplyAffine(tl, sa, sb), r.sets[2].y, 15))
	}
	return c, nil
}

// calibrateProbe fits the per-label calibration map on the validation logits of b's
// head (or on the out-of-fold logits) and folds it into a copy of it (b.Head is
// replaced). Nil when Calibrate is off.
func (r *run) calibrateProbe(b *bundle.Bundle) (*Calibration, error) {
	if !r.cfg.Calibrate {
		return nil, nil
	}
	if r.split.Val == 0 || len(r.sets[1].y) == 0 {
		return nil, errkind.BadInput("calibrate: no validation share to fit the calibration on")
	}
	logits := func(k int) [][]float32 {
		n := len(r.sets[k].y)
		flat := b.Head.Logits(r.sets[k].x, n)
		out := make([][]float32, n)
		for i := range out {
			out[i] = flat[i*b.Head.Out : (i+1)*b.Head.Out]
		}
		return out
	}
	vl := logits(1)
	var tl [][]float32
	if len(r.sets[2].y) > 0 {
		tl = logits(2)
	}
	fitL, fitY, on := vl, r.sets[1].y, "validation"
	if r.oof != nil {
		fitL, fitY, on = r.oof.logits, r.oof.truth, fmt.Sprintf("out-of-fold (%d folds)", r.oof.folds)
	}
	c, err := r.fitCalibration(fitL, fitY, on, vl, tl)
	if err != nil {
		return nil, err
	}
	sa, sb := c.affine()
	h := b.Head.Clone()
	affineHead(h, sa, sb)
	b.Head = *h
	r.log.Info("train: calibration folded into the head", "method", c.Method, "temperatures", c.Temperatures,
		"platt_a", c.PlattA, "platt_b", c.PlattB, "fit_on", on, "fit_images", len(fitY),
		"val_ece_before", c.ValECEBefore, "val_ece_after", c.ValECEAfter,
		"test_ece_before", c.TestECEBefore, "test_ece_after", c.TestECEAfter)
	r.calibration = c
	return c, nil
}

// affineHead makes the head's logits a_j·z_j + b_j (nil b: no shift): the last layer's
// weights and bias of output j are multiplied by a_j, and b_j is added to the bias.
func affineHead(h *headparams.Params, a, b []float64) {
	scaleHead(h, a)
	if b == nil {
		return
	}
	bias := h.B1
	switch h.Kind {
	case headparams.MLP:
		bias = h.B2
	case headparams.Attention:
		bias = h.Attn.Bg
	}
	for j, v := range b {
		bias[j] = float32(float64(bias[j]) + v)
	}
}

// affineLogits returns row-major logits (k labels a row) mapped by z → a·z + b.
func affineLogits(flat []float32, k int, a, b []float64) []float32 {
	out := make([]float32, len(flat))
	for i, z := range flat {
		v := a[i%k] * float64(z)
		if b != nil {
			v += b[i%k]
		}
		out[i] = float32(v)
	}
	return out
}

// scaleHead multiplies the last layer's weights and bias of output j by a[j]: the
// head's logits become a·z (temperature scaling is a = 1/T).
func scaleHead(h *headparams.Params, a []float64) {
	if h.Kind == headparams.Attention {
		scaleAttention(h, a)
		return
	}
	w, bias := h.W1, h.B1
	rows := h.Width()
	if h.Kind == headparams.MLP {
		w, bias, rows = h.W2, h.B2, h.Hidden
	}
	for j, f := range a {
		for i := 0; i < rows; i++ {
			w[i*h.Out+j] = float32(float64(w[i*h.Out+j]) * f)
		}
		bias[j] = float32(float64(bias[j]) * f)
	}
}

func meanFinite(v []float64) float64 {
	s, n := 0.0, 0
	for _, x := range v {
		if !math.IsNaN(x) {
			s += x
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// calibrateLogits is calibrateProbe for the fine-tuned stage, whose validation and
// test logits (row-major, index 1 and 2) are given: it folds the calibration map into a
// copy of b.Head and maps the logits (fresh slices).
func (r *run) calibrateLogits(b *bundle.Bundle, logits *[3][]float32) (*Calibration, error) {
	if !r.cfg.Calibrate {
		return nil, nil
	}
	k := b.Head.Out
	rows := func(part int) [][]float32 {
		flat := logits[part]
		out := make([][]float32, len(flat)/k)
		for i := range out {
			out[i] = flat[i*k : (i+1)*k]
		}
		return out
	}
	if len(r.sets[1].y) == 0 || len(logits[1]) != len(r.sets[1].y)*k {
		return nil, errkind.BadInput("calibrate: no validation share to fit the calibration on")
	}
	vl, tl := rows(1), rows(2)
	c, err := r.fitCalibration(vl, r.sets[1].y, "validation", vl, tl)
	if err != nil {
		return nil, err
	}
	sa, sb := c.affine()
	h := b.Head.Clone()
	affineHead(h, sa, sb)
	b.Head = *h
	for _, part := range []int{1, 2} {
		logits[part] = affineLogits(logits[part], k, sa, sb)
	}
	r.log.Info("fine-tune: calibration folded into the head", "method", c.Method, "temperatures", c.Temperatures,
		"platt_a", c.PlattA, "platt_b", c.PlattB, "val_ece_before", c.ValECEBefore, "val_ece_after", c.ValECEAfter)
	r.calibration = c
	return c, nil
}
