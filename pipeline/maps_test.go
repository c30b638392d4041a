package pipeline

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/headparams"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/model"
)

// TestReportMapsGallery: the training report's maps section shows real MIML test
// images with a false positive, a miss and a right answer, one overlay per predicted
// or true label, captioned with what kind of answer it is; a bundle whose cut has no
// spatial map gets no section.
func TestReportMapsGallery(t *testing.T) {
	t.Parallel()
	bb, err := backbone.Load(filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx"), backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fm, err := bb.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	labels := []string{"desert", "mountains", "sea", "sunset", "trees"}
	h, err := headparams.New(headparams.Linear, bb.FeatureDim, 0, len(labels), 5)
	if err != nil {
		t.Fatal(err)
	}
	// Thresholds 0 and 1: desert and sea are predicted on every image, nothing else.
	b := &bundle.Bundle{Backbone: fm, BackboneInfo: bundle.BackboneInfo{Name: "squeezenet1.1", FeatureNode: bb.FeatureNode, FeatureDim: bb.FeatureDim, Pool: bb.Pool},
		Head: *h, Labels: labels, Thresholds: []float64{0, 1, 0, 1, 1}, Spec: bb.Spec}
	dir := sharedtest.Dir(t, "data/miml-scenes/images")
	paths := []string{filepath.Join(dir, "1.jpg"), filepath.Join(dir, "2.jpg"), filepath.Join(dir, "900.jpg")}
	m, err := model.New(b, model.Options{Engine: "ort", ORTLib: sharedtest.ORTLib(t)})
	if err != nil {
		t.Fatal(err)
	}
	preds, err := m.PredictFiles(context.Background(), paths)
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := &TrainResult{Bundle: b, TestPaths: paths, mapsOpt: model.Options{Engine: "ort", ORTLib: sharedtest.ORTLib(t)},
		Truth: [][]int8{{1, 0, 0, 0, 0}, {1, 0, 1, 0, 1}, {1, 0, 1, 0, 0}}} // sea a false positive; trees missed; right
	for _, p := range preds {
		r.Scores = append(r.Scores, p.Scores)
	}
	sec, ok := r.mapsSection(context.Background())
	if !ok {
		t.Fatal("no maps section")
	}
	for _, want := range []string{"1.jpg: map of sea (false positive)", "1.jpg: map of desert (true positive)", "2.jpg: map of trees (missed)", "900.jpg: map of sea (true positive)",
		"1 images with a false positive, 1 with a miss, 1 right", "13×13", "exact class activation map"} {
		if !strings.Contains(sec.HTML, want) {
			t.Errorf("maps section lacks %q", want)
		}
	}
	if n := strings.Count(sec.HTML, `src="data:image/png;base64,`); n != 2+3+2 {
		t.Errorf("%d overlays, want 7", n)
	}

	flat, err := backbone.Load(filepath.Join("..", "backbone", "testdata", "tiny_gemm.onnx"), backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ffm, _ := flat.FeatureModel()
	fh, _ := headparams.New(headparams.Linear, flat.FeatureDim, 0, 2, 1)
	r2 := &TrainResult{Bundle: &bundle.Bundle{Backbone: ffm, BackboneInfo: bundle.BackboneInfo{Name: "flat", FeatureNode: flat.FeatureNode, FeatureDim: flat.FeatureDim},
		Head: *fh, Labels: []string{"a", "b"}, Thresholds: []float64{0.5, 0.5}, Spec: flat.Spec},
		Scores: [][]float32{{0.1, 0.9}}, Truth: [][]int8{{0, 1}}, TestPaths: []string{"x.png"}, mapsOpt: model.Options{Engine: "go"}}
	if _, ok := r2.mapsSection(context.Background()); ok {
		t.Error("a flat cut got a maps section")
	}
}
