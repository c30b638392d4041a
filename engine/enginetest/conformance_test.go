package enginetest_test

import (
	"testing"

	"github.com/multilabel/multilabel/engine"
	"github.com/multilabel/multilabel/engine/enginetest"
	"github.com/multilabel/multilabel/engine/gomlx"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

func TestConformanceGoMLX(t *testing.T) {
	t.Parallel()
	enginetest.Run(t, func(model []byte) (engine.Engine, error) {
		return gomlx.Open(model, gomlx.Options{})
	})
}

func TestConformanceORT(t *testing.T) {
	t.Parallel()
	lib := sharedtest.ORTLib(t)
	enginetest.Run(t, func(model []byte) (engine.Engine, error) {
		return ort.Open(model, ort.Options{LibPath: lib})
	})
}
