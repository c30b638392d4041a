package model

import (
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/prediction"
)

// LabelMap is the activation map of one label on one image (Options.Explain): the
// head's logit at each location of the spatial map at the backbone's cut (see the
// package's explain documentation in explain.go and the README), and the overlay PNG
// drawn from it.
type LabelMap struct {
	Label string
	// W and H are the map's grid (the cut's spatial size, e.g. 13×13 for SqueezeNet).
	W, H int
	// Values holds H×W logits, row-major (row 0 at the top of the image).
	Values []float32
	// PNG is the map upsampled, coloured and blended over the image as the model saw it
	// (after the resize and crop of the bundle's preprocessing), at most MaxOverlaySide
	// pixels on its longer side.
	PNG []byte
}

// Mean is the mean of the map's values: for a linear head on average-pooled
// features, the label's logit.
func (l LabelMap) Mean() float64 {
	s := 0.0
	for _, v := range l.Values {
		s += float64(v)
	}
	return s / float64(max(1, len(l.Values)))
}

// JSON is the map in the one JSON shape (prediction.Map), with the PNG.
func (l LabelMap) JSON() prediction.Map {
	lo, hi := 0.0, 0.0
	for i, v := range l.Values {
		if i == 0 || float64(v) < lo {
			lo = float64(v)
		}
		if i == 0 || float64(v) > hi {
			hi = float64(v)
		}
	}
	return prediction.Map{Label: l.Label, Width: l.W, Height: l.H, Min: lo, Max: hi, Mean: l.Mean(), PNG: l.PNG}
}

// Pick chooses the labels (indices into Model.Labels) whose maps to draw for the i-th
// image, given its prediction (Scores and Labels set).
type Pick func(i int, p *Prediction) []int

// PredictedLabels picks the predicted labels: what Predict and PredictFiles draw with
// Options.Explain.
func PredictedLabels(_ int, p *Prediction) []int {
	out := make([]int, 0, len(p.Labels))
	for _, l := range p.Labels {
		for j, name := range p.model.Labels() {
			if name == l.Label {
				out = append(out, j)
				break
			}
		}
	}
	return out
}

// ErrNoExplain is returned by the Explain methods of a model opened without
// Options.Explain.
var ErrNoExplain = errkind.Sentinel("model opened without Options.Explain: no activation maps", errkind.ErrBadInput)

// ExplainFiles is PredictFiles drawing the maps of the labels pick chooses for each
// readable image (nil: the predicted labels). The model must be opened with
// Options.Explain.
func (m *Model) ExplainFiles(ctx context.Context, paths []string, pick Pick) ([]Prediction, error) {
	if m.ex == nil {
		return nil, ErrNoExplain
	}
	if pick == nil {
		pick = PredictedLabels
	}
	return m.predictFiles(ctx, paths, pick)
}

// ExplainImages is Predict drawing the maps of the labels pick chooses (nil: the
// predicted labels). The model must be opened with Options.Explain.
func (m *Model) ExplainImages(ctx context.Context, imgs []image.Image, pick Pick) ([]Prediction, error) {
	if m.ex == nil {
		return nil, ErrNoExplain
	}
	if pick == nil {
		pick = PredictedLabels
	}
	return m.predictImages(ctx, imgs, pick)
}

// CanExplain reports whether the model draws maps (opened with Options.Explain).
func (m *Model) CanExplain() bool { return m.ex != nil }

// ExplainScores is what the HTTP service needs (serve.Explainer): the scores of each
// image and, for the labels pick(i, scores) names, their maps in the JSON shape with
// the PNG. The backbone runs once per image.
func (m *Model) ExplainScores(ctx context.Context, imgs []image.Image, pick func(i int, scores []float32) []int) ([][]float32, [][]prediction.Map, error) {
	preds, err := m.ExplainImages(ctx, imgs, func(i int, p *Prediction) []int { return pick(i, p.Scores) })
	if err != nil {
		return nil, nil, err
	}
	scores := make([][]float32, len(preds))
	maps := make([][]prediction.Map, len(preds))
	for i, p := range preds {
		scores[i] = p.Scores
		maps[i] = make([]prediction.Map, len(p.Maps))
		for k, lm := range p.Maps {
			maps[i][k] = lm.JSON()
		}
	}
	return scores, maps, nil
}

// drawMaps fills preds[i].Maps (i in the batch) for the labels pick chooses, drawing
// the overlays in parallel. input holds the batch's tensors, maps its label maps.
func (m *Model) drawMaps(start int, preds []Prediction, ok []bool, input, maps []float32, pick Pick) error {
	if pick == nil || m.ex == nil {
		return nil
	}
	ex := m.ex
	hw := ex.h * ex.w
	ml := ex.mapLen()
	tl := m.Bundle.Spec.TensorLen()
	type task struct{ i, k, j int }
	var tasks []task
	for i := range preds {
		if !ok[i] {
			continue
		}
		js := pick(start+i, &preds[i])
		preds[i].Maps = make([]LabelMap, len(js))
		for k, j := range js {
			if j < 0 || j >= ex.out {
				return fmt.Errorf("model: explain: label index %d out of range 0..%d", j, ex.out-1)
			}
			tasks = append(tasks, task{i, k, j})
		}
	}
	errs := make([]error, len(tasks))
	m.parallel(len(tasks), func(t int) {
		tk := tasks[t]
		vals := append([]float32(nil), maps[tk.i*ml+tk.j*hw:tk.i*ml+(tk.j+1)*hw]...)
		png, err := overlay(m.Bundle.Spec, input[tk.i*tl:(tk.i+1)*tl], vals, ex.h, ex.w)
		errs[t] = err
		preds[tk.i].Maps[tk.k] = LabelMap{Label: m.Bundle.Labels[tk.j], W: ex.w, H: ex.h, Values: vals, PNG: png}
	})
	return errors.Join(errs...)
}
