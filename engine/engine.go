// Package engine runs an ONNX graph on batches of float32 tensors. Implementations live in
// subpackages (ort: ONNX Runtime, fast; gomlx: pure Go, everywhere); every implementation
// passes the shared conformance suite in enginetest.
package engine

import "context"

// Engine runs one graph with one float32 input and one float32 output.
type Engine interface {
	// Name is "ort" or "gomlx" (plus details such as the backend).
	Name() string
	// InputShape is the per-sample input shape, e.g. [3,224,224].
	InputShape() []int64
	// OutputShape is the per-sample output shape, e.g. [512].
	OutputShape() []int64
	// Run runs the graph on n samples laid out contiguously in input
	// (len(input) == n*prod(InputShape())) and returns n*prod(OutputShape()) values.
	Run(ctx context.Context, input []float32, n int) ([]float32, error)
	// Close releases the engine's resources.
	Close() error
}
