package main

import (
	"context"
	"fmt"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/model"
)

// evalWithModel serves "eval --model M.mlb" (the bundle at path, reported as name): it predicts the truth's images with the
// bundle on the engine opt chooses and returns them with their truth, to be evaluated at
// the bundle's thresholds. Unreadable images are reported on stderr and left out (with
// strict, the first one is an error).
func evalWithModel(ctx context.Context, e *env, load datasetLoader, path, name, data string, dopt dataset.Options, opt model.Options, strict bool) (*evalData, error) {
	b, err := bundle.Read(path)
	if err != nil {
		return nil, badInput(err)
	}
	m, err := model.New(b, opt)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	dopt.Labels = m.Labels()
	d, err := load(data, dopt)
	if err != nil {
		return nil, err
	}
	sc, err := m.ScoreSamples(ctx, d)
	if err != nil {
		if model.IsBadInput(err) {
			return nil, badInput(err)
		}
		return nil, err
	}
	if strict && len(sc.Bad) > 0 {
		return nil, badInput(fmt.Errorf("%s (--strict: without it unreadable images are left out)", sc.Bad[0].Reason))
	}
	for _, bad := range sc.Bad {
		fmt.Fprintf(e.stderr, "skipped %s: %s\n", bad.Path, bad.Reason)
	}
	return &evalData{
		Labels: sc.Labels, Names: sc.Names, Paths: sc.Paths, Scores: sc.Scores, Truth: sc.Truth,
		Thresholds: m.Thresholds(),
		Meta: [][2]string{{"model", name}, {"model id", b.ID}, {"backbone", b.BackboneInfo.Name},
			{"engine", m.EngineName()}, {"unreadable images", fmt.Sprint(len(sc.Bad))}},
	}, nil
}
