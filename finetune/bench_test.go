package finetune_test

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/gobackend"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/finetune"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/loss"
)

// benchStep times AdamW training steps of SqueezeNet 1.1's tail from --unfreeze u plus
// a linear head (5 labels) on random activations of the cut, batch b, in GoMLX pure Go,
// and reports images/s. scripts/bench_finetune.sh compares it with PyTorch.
func benchStep(tb *testing.B, u string, b int) {
	dir := sharedtest.Dir(tb, "models/squeezenet1.1")
	bb, err := backbone.Load(filepath.Join(dir, "squeezenet1.1-fp16.onnx"), backbone.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	fm, err := bb.FeatureModel()
	if err != nil {
		tb.Fatal(err)
	}
	spec := bb.Spec
	fb, err := backbone.LoadBytes(fm, "features", backbone.Options{FeatureNode: backbone.FeatureOutput, Spec: &spec})
	if err != nil {
		tb.Fatal(err)
	}
	blk, err := finetune.CutFor(fb.Blocks(), u)
	if err != nil {
		tb.Fatal(err)
	}
	shape := fb.TensorShape(blk.Cut)[1:]
	sp, err := finetune.SplitModel(fm, blk.Cut, shape)
	if err != nil {
		tb.Fatal(err)
	}
	h, _ := head.New(head.Linear, fb.FeatureDim, 0, 5, 1)
	net, err := finetune.NewNet(gobackend.GetBackend(), sp, *h, finetune.NetOptions{Batch: b, Loss: loss.Defaults(loss.BCE), ClipNorm: 5, Shape: fb.TensorShape})
	if err != nil {
		tb.Fatal(err)
	}
	defer net.Close()
	per := 1
	for _, d := range shape {
		per *= int(d)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, b*per)
	for i := range x {
		x[i] = rng.Float32() * 2
	}
	y, m := make([]float32, b*5), make([]float32, b*5)
	for i := range y {
		y[i], m[i] = float32(rng.IntN(2)), 1
	}
	st := net.InitState()
	if _, err := net.Step(st, x, y, m, []float32{1, 1, 1, 1, 1}, b, 1e-4, 1e-3); err != nil { // compile
		tb.Fatal(err)
	}
	tp, _ := net.NumParams()
	tb.ResetTimer()
	for i := 0; i < tb.N; i++ {
		if _, err := net.Step(st, x, y, m, []float32{1, 1, 1, 1, 1}, b, 1e-4, 1e-3); err != nil {
			tb.Fatal(err)
		}
	}
	tb.ReportMetric(float64(b*tb.N)/tb.Elapsed().Seconds(), "images/s")
	tb.ReportMetric(float64(tp), "tail-params")
}

// BenchmarkStepTail: fire9 (the last block) + head, on cached fire8 activations.
func BenchmarkStepTail(b *testing.B) { benchStep(b, "1", 32) }

// BenchmarkStepWhole: the whole SqueezeNet 1.1 + head on 224×224 images.
func BenchmarkStepWhole(b *testing.B) { benchStep(b, "all", 8) }
