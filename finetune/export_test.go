package finetune_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/gobackend"

	"github.com/multilabel/multilabel/bundle"
	gomlxeng "github.com/multilabel/multilabel/engine/gomlx"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/finetune"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/loss"
)

// TestExportMatchesTrainingGraph: after fine-tuning changes the tail (here: a few AdamW
// steps with a large learning rate on real images), the bundle's single exported ONNX
// graph gives the same probabilities in ONNX Runtime, in the pure-Go engine and in the
// training graph (ORT prefix + GoMLX tail + head), to 1e-4, on real MIML photos.
func TestExportMatchesTrainingGraph(t *testing.T) {
	t.Parallel()
	lib := sharedtest.ORTLib(t)
	fb, fm := finetune.SqueezeFeaturesForTest(t)
	data := sharedtest.Dir(t, "data/miml-scenes")
	spec := fb.Spec
	const n = 8
	img := make([]float32, n*spec.TensorLen())
	for i := 0; i < n; i++ {
		p := filepath.Join(data, "images", fmt.Sprintf("%d.jpg", []int{1, 264, 536, 787, 1028, 1282, 1540, 1778}[i]))
		if err := imageio.LoadFile(p, spec, img[i*spec.TensorLen():(i+1)*spec.TensorLen()], imageio.DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	blk, err := finetune.CutFor(fb.Blocks(), "1")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := finetune.SplitModel(fm, blk.Cut, fb.TensorShape(blk.Cut)[1:])
	if err != nil {
		t.Fatal(err)
	}
	pre, err := ort.Open(sp.Prefix, ort.Options{LibPath: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer pre.Close()
	acts, err := pre.Run(context.Background(), img, n)
	if err != nil {
		t.Fatal(err)
	}
	labels := []string{"desert", "mountains", "sea", "sunset", "trees"}
	h, _ := head.New(head.Linear, fb.FeatureDim, 0, len(labels), 1)
	rng := rand.New(rand.NewPCG(1, 1))
	h.Mean, h.Std = make([]float32, fb.FeatureDim), make([]float32, fb.FeatureDim)
	for i := range h.Mean {
		h.Mean[i], h.Std[i] = rng.Float32()*5, 1+rng.Float32()*5
	}
	net, err := finetune.NewNet(gobackend.GetBackend(), sp, *h, finetune.NetOptions{Batch: n, Loss: loss.Defaults(loss.BCE), Shape: fb.TensorShape})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	st := net.InitState()
	y := make([]float32, n*len(labels))
	m := make([]float32, n*len(labels))
	for i := range y {
		y[i], m[i] = float32(rng.IntN(2)), 1
	}
	for s := 0; s < 3; s++ {
		if _, err := net.Step(st, acts, y, m, []float32{1, 1, 1, 1, 1}, n, 1e-2, 1e-2); err != nil {
			t.Fatal(err)
		}
	}
	logits, err := net.Logits(st, acts, n)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(logits))
	for i, v := range logits {
		want[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
	wb, err := sp.WriteBack(net.TailWeights(st))
	if err != nil {
		t.Fatal(err)
	}
	th := []float64{0.5, 0.5, 0.5, 0.5, 0.5}
	bnd := &bundle.Bundle{Backbone: wb, BackboneInfo: bundle.BackboneInfo{Name: "squeezenet", FeatureDim: fb.FeatureDim},
		Head: net.Head(st), Labels: labels, Thresholds: th, Spec: spec}
	onnxBytes, err := bundle.ExportONNX(bnd)
	if err != nil {
		t.Fatal(err)
	}
	oe, err := ort.Open(onnxBytes, ort.Options{LibPath: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer oe.Close()
	ge, err := gomlxeng.Open(onnxBytes, gomlxeng.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ge.Close()
	changed := false
	w0 := sp.InitialWeights()
	for i, w := range net.TailWeights(st) {
		if maxDiff(w, w0[i]) > 1e-3 {
			changed = true
		}
	}
	if !changed {
		t.Fatal("the steps did not change the tail")
	}
	for _, e := range []interface {
		Name() string
		Run(context.Context, []float32, int) ([]float32, error)
	}{oe, ge} {
		got, err := e.Run(context.Background(), img, n)
		if err != nil {
			t.Fatal(err)
		}
		d := maxDiff(got, want)
		t.Logf("%s vs training graph: max abs diff %.2g", e.Name(), d)
		if d > 1e-4 {
			t.Errorf("%s: exported graph differs from the training graph by %g", e.Name(), d)
		}
	}
}

func maxDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}
