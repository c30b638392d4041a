package main

import (
	"context"
	"fmt"
	"os"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/model"
)

// "eval --model M.mlb": predict the truth's images with the bundle (engine chosen by
// MULTILABEL_ENGINE, default auto: ONNX Runtime when found, else pure Go) and evaluate
// at the bundle's thresholds. Unreadable images are reported on stderr and left out.
func init() {
	evalModelSource = evalWithModel
}

func evalWithModel(ctx context.Context, path, data string, dopt dataset.Options) (*evalData, error) {
	b, err := bundle.Read(path)
	if err != nil {
		return nil, badInput(err)
	}
	m, err := model.New(b, model.Options{Engine: os.Getenv("MULTILABEL_ENGINE")})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	sc, err := m.ScoreDataset(ctx, data, dopt)
	if err != nil {
		if model.IsBadInput(err) {
			return nil, badInput(err)
		}
		return nil, err
	}
	for _, bad := range sc.Bad {
		fmt.Fprintf(os.Stderr, "skipped %s: %s\n", bad.Path, bad.Reason)
	}
	return &evalData{
		Labels: sc.Labels, Names: sc.Names, Paths: sc.Paths, Scores: sc.Scores, Truth: sc.Truth,
		Thresholds: m.Thresholds(),
		Meta: [][2]string{{"model", path}, {"model id", b.ID}, {"backbone", b.BackboneInfo.Name},
			{"engine", m.EngineName()}, {"unreadable images", fmt.Sprint(len(sc.Bad))}},
	}, nil
}
