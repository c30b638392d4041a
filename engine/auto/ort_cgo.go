//go:build cgo

package auto

import (
	"github.com/multilabel/multilabel/engine"
	"github.com/multilabel/multilabel/engine/ort"
)

// errNoORT is wrapped by findORT when the ONNX Runtime library is not found.
var errNoORT = ort.ErrNoLibrary

func findORT(lib string) error {
	_, err := ort.FindLibrary(lib)
	return err
}

func openORT(model []byte, opt Options) (engine.Engine, error) {
	e, err := ort.Open(model, ort.Options{LibPath: opt.ORTLib, IntraOpThreads: opt.Threads, NoSpinning: !opt.Spin})
	if err != nil {
		return nil, err
	}
	return e, nil
}
