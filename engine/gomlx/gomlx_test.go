package gomlx_test

import (
	"testing"

	"github.com/multilabel/multilabel/engine"
	"github.com/multilabel/multilabel/engine/enginetest"
	"github.com/multilabel/multilabel/engine/gomlx"
)

func TestConformance(t *testing.T) {
	enginetest.Run(t, func(model []byte) (engine.Engine, error) {
		return gomlx.Open(model, gomlx.Options{MaxBatch: 16})
	})
}
