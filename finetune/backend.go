package finetune

import (
	"fmt"

	"github.com/gomlx/compute"

	"github.com/multilabel/multilabel/internal/backends"
)

// Backend names accepted by Config.Backend and --backend (see internal/backends, the
// one selection shared with head training in package train).
const (
	BackendAuto = backends.Auto // ONNX Runtime when its library is found, else XLA when its plugin is found, else pure Go
	BackendONNX = backends.ONNX // ONNX Runtime through compute-onnx on the project's pinned library
	BackendGo   = backends.Go   // GoMLX's pure-Go backend
	BackendXLA  = backends.XLA  // XLA through a PJRT plugin (needs a cgo build and an installed plugin)
)

// BackendChoice is a selected training backend: the backend, its kind (BackendONNX,
// BackendXLA or BackendGo), a description and the reason it was chosen.
type BackendChoice = backends.Choice

// ParseBackend validates a --backend value.
func ParseBackend(s string) (string, error) {
	k, err := backends.Parse(s)
	if err != nil {
		return "", fmt.Errorf("finetune: %w", err)
	}
	return k, nil
}

// FindPJRTPlugin returns the path of an installed XLA PJRT plugin (CUDA preferred over
// CPU), looking in $PJRT_PLUGIN_LIBRARY_PATH, ~/.local/lib/go-xla, ~/.local/lib/gomlx/pjrt,
// /usr/local/lib/go-xla and /usr/local/lib/gomlx/pjrt; "" when none is found.
func FindPJRTPlugin() string { return backends.FindPJRTPlugin() }

// Backend returns the GoMLX backend for a --backend value and its description, looking
// for the ONNX Runtime library in the usual places (see BackendWith).
func Backend(name string) (compute.Backend, string, error) {
	c, err := BackendWith(name, "")
	return c.Backend, c.Desc, err
}

// BackendWith selects the training backend: "onnx" requires the ONNX Runtime library
// (ortLib, else $ONNXRUNTIME_LIB, else the project's install place), "xla" a PJRT plugin
// (FindPJRTPlugin) and a cgo build; "auto" takes ONNX Runtime, else XLA, else pure Go.
// Nothing is ever downloaded.
func BackendWith(name, ortLib string) (BackendChoice, error) {
	c, err := backends.Select(name, backends.Options{ORTLib: ortLib})
	if err != nil {
		return BackendChoice{}, fmt.Errorf("finetune: %w", err)
	}
	return c, nil
}
