package model

import (
	"context"
	"fmt"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/metric"
)

// EvalOptions configure Model.Evaluate.
type EvalOptions struct {
	// Images is the directory the label file's image names are relative to.
	Images string
	// Metric options; Thresholds default to the model's (Model.Thresholds).
	Metric metric.Options
}

// EvalResult is the outcome of Model.Evaluate.
type EvalResult struct {
	Metrics *metric.Result
	// Images and Scores are the evaluated images (files) and their scores.
	Images []string
	Scores [][]float32
	// Bad lists the images that could not be read (left out of the metrics).
	Bad []BadFile
}

// BadFile is an image that could not be used.
type BadFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Evaluate predicts every image of the labelled dataset at data (any format
// dataset.Load reads, over the model's label vocabulary) and computes the metrics at
// the model's thresholds. Unreadable images are reported in Bad and left out.
func (m *Model) Evaluate(ctx context.Context, data string, opt EvalOptions) (*EvalResult, error) {
	d, err := dataset.Load(data, dataset.Options{ImagesDir: opt.Images, Labels: m.Labels()})
	if err != nil {
		return nil, err
	}
	if len(d.Samples) == 0 {
		return nil, fmt.Errorf("%w: %s: no samples", ErrBadInput, data)
	}
	paths := d.Paths()
	feats, ok, errs, err := m.Features(ctx, paths)
	if err != nil {
		return nil, err
	}
	res := &EvalResult{}
	var x []float32
	var truth [][]int8
	dim := m.Bundle.Head.In
	for i, s := range d.Samples {
		if !ok[i] {
			res.Bad = append(res.Bad, BadFile{Path: paths[i], Reason: errs[i].Error()})
			continue
		}
		x = append(x, feats[i*dim:(i+1)*dim]...)
		truth = append(truth, s.Truth)
		res.Images = append(res.Images, s.Path)
	}
	if len(truth) == 0 {
		return nil, fmt.Errorf("%w: %s: none of the %d images could be read (first: %s)", ErrBadInput, data, len(paths), res.Bad[0].Reason)
	}
	res.Scores = m.ScoresFromFeatures(x, len(truth))
	mo := opt.Metric
	if mo.Thresholds == nil && mo.Threshold == 0 {
		mo.Thresholds = m.Thresholds()
	}
	if res.Metrics, err = metric.Evaluate(res.Scores, truth, m.Labels(), mo); err != nil {
		return nil, err
	}
	return res, nil
}
