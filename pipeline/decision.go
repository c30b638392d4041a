package pipeline

import (
	"fmt"

	"github.com/multilabel/multilabel/calib"
	"github.com/multilabel/multilabel/errkind"
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
// configured decision rule, logging every label that fell back to its F1 threshold.
func (r *run) tuneThresholds(stage string, scores [][]float32, truth [][]int8, labels []string) ([]float64, error) {
	d, err := parseDecision(r.cfg.Decision)
	if err != nil {
		return nil, err
	}
	th, notes, err := calib.Thresholds(d, scores, truth)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stage, err)
	}
	for _, n := range notes {
		r.log.Warn(stage+": decision rule fallback", "rule", d.String(), "note", n)
	}
	if d.Kind != calib.F1 {
		r.log.Info(stage+": thresholds chosen by the decision rule", "rule", d.String(), "labels", len(labels))
	}
	return th, nil
}
