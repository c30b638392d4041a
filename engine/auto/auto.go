// Package auto opens the best engine available: ONNX Runtime (engine/ort) when its native
// library is found, otherwise the pure-Go GoMLX engine (engine/gomlx), logging one line
// that says so and how to get the fast path.
package auto

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/multilabel/multilabel/engine"
	"github.com/multilabel/multilabel/engine/gomlx"
)

// Engine kinds accepted by Options.Kind.
const (
	KindAuto = "auto" // ONNX Runtime if its library is found, else pure Go
	KindORT  = "ort"  // ONNX Runtime, an error when the library is missing
	KindGo   = "go"   // pure Go (GoMLX)
)

// Kinds lists the accepted kinds, for flag help.
var Kinds = []string{KindAuto, KindORT, KindGo}

// Options select and configure the engine.
type Options struct {
	// Kind is KindAuto (""), KindORT or KindGo.
	Kind string
	// ORTLib is the ONNX Runtime library path ("" searches $ONNXRUNTIME_LIB and the
	// project's install place).
	ORTLib string
	// Threads is ONNX Runtime's intra-op thread count; 0 means all cores.
	Threads int
	// Spin lets idle ONNX Runtime threads busy-wait for work. Off by default: the image
	// loader shares the cores, and `multilabel bench e2e` measured spinning at 0.74–0.87×
	// the end-to-end speed of not spinning on two cores.
	Spin bool
	// MaxBatch caps the batch the pure-Go engine runs at once; 0 is its default.
	MaxBatch int
	// Logger receives the fallback notice; nil means slog.Default().
	Logger *slog.Logger
}

// ParseKind validates a --engine value.
func ParseKind(s string) (string, error) {
	switch s {
	case "", KindAuto:
		return KindAuto, nil
	case KindORT, "onnxruntime":
		return KindORT, nil
	case KindGo, "gomlx", "pure-go":
		return KindGo, nil
	}
	return "", fmt.Errorf("unknown engine %q: want auto, ort or go", s)
}

var fallbackOnce sync.Once

// Open opens an engine for the serialized ONNX model. With KindAuto a missing ONNX Runtime
// library selects the pure-Go engine and logs that once per process; any other ONNX
// Runtime failure (a model it rejects, a broken library) is returned, not hidden.
func Open(model []byte, opt Options) (engine.Engine, error) {
	kind, err := ParseKind(opt.Kind)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindGo:
		return openGo(model, opt)
	case KindORT:
		return openORT(model, opt)
	}
	if err := findORT(opt.ORTLib); err != nil {
		if !errors.Is(err, errNoORT) {
			return nil, err
		}
		fallbackOnce.Do(func() {
			log := opt.Logger
			if log == nil {
				log = slog.Default()
			}
			log.Info("ONNX Runtime not found, using the pure-Go engine (much slower); for the fast path run scripts/install-onnxruntime.sh or set ONNXRUNTIME_LIB",
				"reason", err.Error())
		})
		return openGo(model, opt)
	}
	return openORT(model, opt)
}

func openGo(model []byte, opt Options) (engine.Engine, error) {
	e, err := gomlx.Open(model, gomlx.Options{MaxBatch: opt.MaxBatch})
	if err != nil {
		return nil, err
	}
	return e, nil
}
