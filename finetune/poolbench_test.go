package finetune

import (
	"os"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	timage "github.com/gomlx/gomlx/core/tensors/images"

	"github.com/multilabel/multilabel/internal/backends"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// BenchmarkMaxPoolGrad: forward and gradient of SqueezeNet's first max pooling (3×3/2,
// ceil mode, [8,64,111,111]) on ONNX Runtime with maxPoolGrad (FINETUNE_ONNX_POOLGRAD=0:
// GoMLX's SelectAndScatter, wrong where windows overlap, for timing only).
func BenchmarkMaxPoolGrad(b *testing.B) {
	c, err := backends.Select("onnx", backends.Options{ORTLib: sharedtest.ORTLib(b)})
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("FINETUNE_ONNX_POOLGRAD") == "0" {
		defer func(old bool) { onnxPoolGrad = old }(onnxPoolGrad)
		onnxPoolGrad = false
	}
	N, C, H := 8, 64, 111
	x := make([]float32, N*C*H*H)
	for i := range x {
		x[i] = float32(i%97) * 0.01
	}
	e, err := graph.NewExec(c.Backend, func(x *graph.Node) *graph.Node {
		y := graph.MaxPool(x).ChannelsAxis(timage.ChannelsFirst).Window(3).Strides(2).PaddingPerDim([][2]int{{0, 1}, {0, 1}}).Done()
		return graph.Gradient(graph.ReduceAllSum(graph.Mul(y, y)), x)[0]
	})
	if err != nil {
		b.Fatal(err)
	}
	xt := tensors.FromFlatDataAndDimensions(x, N, C, H, H)
	if _, err := e.Exec(xt); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	c0 := cpuSeconds()
	for range b.N {
		if _, err := e.Exec(xt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuSeconds()-c0)/float64(b.N)*1000, "cpu-ms/op")
}
