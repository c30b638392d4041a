// Package deps pins the module's heavy dependencies while the packages that use them are
// being written; it is removed once every dependency has a real importer.
package deps

import (
	_ "github.com/gomlx/compute-onnx/support/protos"
	_ "github.com/gomlx/compute/gobackend"
	_ "github.com/gomlx/gomlx/core/graph"
	_ "github.com/gomlx/gomlx/ml/layers"
	_ "github.com/gomlx/gomlx/ml/train"
	_ "github.com/gomlx/onnx-gomlx/onnx"
	_ "github.com/yalue/onnxruntime_go"
	_ "golang.org/x/image/webp"
	_ "google.golang.org/protobuf/proto"
)
