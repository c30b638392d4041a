package model

import (
	"context"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/imageio"
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
	Bad []imageio.BadImage
}

// BadFile is an image that could not be used (Index is its sample's position).
//
// Deprecated: use imageio.BadImage; this alias stays for one release.
type BadFile = imageio.BadImage

// Scored is a labelled dataset with the model's scores.
type Scored struct {
	Labels []string
	// Names are the image references as the label file writes them, Paths the files;
	// Scores and Truth are indexed like them. Unreadable images are left out.
	Names  []string
	Paths  []string
	Scores [][]float32
	Truth  [][]int8
	// Bad lists the images that could not be read.
	Bad []imageio.BadImage
}

// ScoreDataset predicts every image of the labelled dataset at data (any format
// dataset.Load reads; dopt.Labels is set to the model's vocabulary, so a label the model
// does not know is an error). Unreadable images are reported in Bad and left out; when
// none is readable the error matches errkind.ErrBadInput.
func (m *Model) ScoreDataset(ctx context.Context, data string, dopt dataset.Options) (*Scored, error) {
	dopt.Labels = m.Labels()
	d, err := dataset.Load(data, dopt)
	if err != nil {
		return nil, err
	}
	return m.ScoreSamples(ctx, d)
}

// ScoreSamples is ScoreDataset for a dataset already read (in the model's vocabulary),
// for example one shard of it (dataset.Dataset.Subset).
func (m *Model) ScoreSamples(ctx context.Context, d *dataset.Dataset) (*Scored, error) {
	data := d.Source
	if len(d.Samples) == 0 {
		return nil, errkind.BadInput("%s: no samples", data)
	}
	paths := d.Paths()
	feats, ok, errs, err := m.Features(ctx, paths)
	if err != nil {
		return nil, err
	}
	res := &Scored{Labels: m.Labels()}
	var x []float32
	dim := m.Bundle.Head.In
	for i, s := range d.Samples {
		if !ok[i] {
			res.Bad = append(res.Bad, imageio.BadImage{Index: i, Path: paths[i], Image: s.Image, Reason: errs[i].Error()})
			continue
		}
		x = append(x, feats[i*dim:(i+1)*dim]...)
		res.Truth = append(res.Truth, s.Truth)
		res.Names = append(res.Names, s.Image)
		res.Paths = append(res.Paths, s.Path)
	}
	if len(res.Truth) == 0 {
		return nil, errkind.BadInput("%s: none of the %d images could be read (first: %s)", data, len(paths), res.Bad[0].Reason)
	}
	res.Scores = m.ScoresFromFeatures(x, len(res.Truth))
	return res, nil
}

// Evaluate predicts every image of the labelled dataset at data (see ScoreDataset) and
// computes the metrics, at the model's thresholds unless opt.Metric says otherwise.
func (m *Model) Evaluate(ctx context.Context, data string, opt EvalOptions) (*EvalResult, error) {
	sc, err := m.ScoreDataset(ctx, data, dataset.Options{ImagesDir: opt.Images})
	if err != nil {
		return nil, err
	}
	mo := opt.Metric
	if mo.Thresholds == nil && mo.Threshold == 0 {
		mo.Thresholds = m.Thresholds()
	}
	res := &EvalResult{Images: sc.Paths, Scores: sc.Scores, Bad: sc.Bad}
	if res.Metrics, err = metric.Evaluate(sc.Scores, sc.Truth, sc.Labels, mo); err != nil {
		return nil, err
	}
	return res, nil
}

// IsBadInput reports whether err comes from the user's input.
//
// Deprecated: use errkind.IsBadInput.
func IsBadInput(err error) bool { return errkind.IsBadInput(err) }
