package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/pipeline"
)

// SpatialCut is the demo CNN's last block output (32×6×6, just before its global
// average pool): the linear probe's cut, average-pooled in the graph, so its bundle
// keeps a map to draw class activation maps from.
const SpatialCut = "b3.relu"

// positionRules are the labels tied to a place in the image (synth.TargetRules) and
// where the rule puts them, as a fraction of the height from the top; the band checked
// is widened to whole rows of the 6-row map (a sun in the top fifth reaches row 2).
var positionRules = []struct {
	label, rule string
	lo, hi      float64
}{
	{"sun", "top fifth", 0, 1.0 / 3},
	{"moon", "top quarter", 0, 1.0 / 3},
	{"boat", "on the waterline at 55%", 0.4, 0.7},
}

// mapsPeakImages is how many test images holding a position-rule label the note's
// peak rows are measured on.
const mapsPeakImages = 64

// drawMaps stores in r the report's gallery of the bundle's activation maps on a few
// test images, the position-rule labels first, with a note measuring where their
// maps peak. A bundle that cannot explain itself (a backbone without SpatialCut) gets
// no gallery; a failure is logged, never fatal.
func (r *Result) drawMaps(ctx context.Context, cfg Config, b *bundle.Bundle, scores [][]float32, truth [][]int8, paths []string) {
	opt := model.Options{Engine: cfg.Engine}
	var focus []string
	for _, p := range positionRules {
		focus = append(focus, p.label)
	}
	note, err := peakNote(ctx, b, opt, truth, paths)
	if err != nil {
		cfg.Log.Warn("demo: position of the maps not measured", "err", err)
	}
	sec, ok := pipeline.MapsSection(ctx, pipeline.MapsInput{Bundle: b, Options: opt, Scores: scores, Truth: truth, Paths: paths,
		Focus: focus, Note: note})
	if ok {
		sec.Title = "Where the labels are: activation maps of the linear probe (asl) on a few test images"
		r.maps = &sec
	}
}

// peakNote measures, on test images holding a position-rule label, the height of the
// row where that label's map is largest, and returns one line comparing its median
// with the rule. "" when the bundle cannot draw maps.
func peakNote(ctx context.Context, b *bundle.Bundle, opt model.Options, truth [][]int8, paths []string) (string, error) {
	opt.Explain, opt.BatchSize = true, 32
	m, err := model.New(b, opt)
	if err != nil {
		return "", err
	}
	defer m.Close()
	idx := make([]int, len(positionRules))
	for k, p := range positionRules {
		idx[k] = slices.Index(b.Labels, p.label)
		if idx[k] < 0 {
			return "", fmt.Errorf("label %q not in the bundle", p.label)
		}
	}
	var sel []int
	for i := range truth {
		for _, j := range idx {
			if truth[i][j] == 1 {
				sel = append(sel, i)
				break
			}
		}
		if len(sel) == mapsPeakImages {
			break
		}
	}
	selPaths := make([]string, len(sel))
	for k, i := range sel {
		selPaths[k] = paths[i]
	}
	preds, err := m.ExplainFiles(ctx, selPaths, func(k int, _ *model.Prediction) []int {
		var js []int
		for _, j := range idx {
			if truth[sel[k]][j] == 1 {
				js = append(js, j)
			}
		}
		return js
	})
	if err != nil {
		return "", err
	}
	rows := map[string][]float64{}
	for _, p := range preds {
		for _, lm := range p.Maps {
			if lm.W <= 0 || lm.H <= 0 || len(lm.Values) != lm.W*lm.H {
				continue
			}
			best := 0
			for q, v := range lm.Values {
				if v > lm.Values[best] {
					best = q
				}
			}
			rows[lm.Label] = append(rows[lm.Label], (float64(best/lm.W)+0.5)/float64(lm.H))
		}
	}
	var parts []string
	for _, p := range positionRules {
		v := rows[p.label]
		if len(v) == 0 {
			continue
		}
		slices.Sort(v)
		in := 0
		for _, y := range v {
			if y >= p.lo && y <= p.hi {
				in++
			}
		}
		parts = append(parts, fmt.Sprintf("%s at %.2f (rule: %s; %d of %d peaks in %.2f–%.2f)", p.label, median(v), p.rule, in, len(v), p.lo, p.hi))
	}
	if len(parts) == 0 {
		return "", nil
	}
	return fmt.Sprintf("Where the position-rule labels light up: the median height of the peak of each label's map (the row of its largest value, as a fraction of the height from the top; %d test images holding the label): %s.",
		len(sel), strings.Join(parts, ", ")), nil
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
