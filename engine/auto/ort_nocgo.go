//go:build !cgo

package auto

import (
	"errors"
	"fmt"

	"github.com/multilabel/multilabel/engine"
)

// errNoORT: a program built without cgo (CGO_ENABLED=0) cannot load ONNX Runtime, so
// KindAuto always picks the pure-Go engine and KindORT is an error.
var errNoORT = errors.New("ONNX Runtime unavailable: built without cgo (CGO_ENABLED=0)")

func findORT(string) error { return errNoORT }

func openORT([]byte, Options) (engine.Engine, error) {
	return nil, fmt.Errorf("engine ort: %w", errNoORT)
}
