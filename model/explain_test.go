package model_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/headparams"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/model"
)

var mimlLabels = []string{"desert", "mountains", "sea", "sunset", "trees"}

// squeezeBundle is a bundle on the shared SqueezeNet 1.1 (pooled by pool) with a seeded
// random head of kind, standardisation included; it returns the backbone too.
func squeezeBundle(t *testing.T, kind, pool string) (*bundle.Bundle, *backbone.Backbone) {
	t.Helper()
	bb, err := backbone.Load(filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx"), backbone.Options{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	fm, err := bb.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	h, err := headparams.New(kind, bb.FeatureDim, 24, len(mimlLabels), 11)
	if err != nil {
		t.Fatal(err)
	}
	h.Mean, h.Std = make([]float32, h.In), make([]float32, h.In)
	for i := range h.Mean {
		h.Mean[i] = float32(i%7) * 0.5
		h.Std[i] = 1 + float32(i%5)
	}
	return &bundle.Bundle{Backbone: fm, BackboneInfo: bundle.BackboneInfo{Name: "squeezenet1.1", FeatureNode: bb.FeatureNode, FeatureDim: bb.FeatureDim, Pool: bb.Pool},
		Head: *h, Labels: mimlLabels, Thresholds: []float64{0.5, 0.5, 0.4, 0.5, 0.6}, Spec: bb.Spec}, bb
}

func mimlImages(t *testing.T, names ...string) []string {
	dir := sharedtest.Dir(t, "data/miml-scenes/images")
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
	}
	return out
}

func allLabels(int, *model.Prediction) []int { return []int{0, 1, 2, 3, 4} }

// TestExplainCAMMeanIsLogit: for a linear head on average-pooled features the map is
// the exact class activation map (for the MLP, that of the head linearised at the
// image's features), so its mean over the 13×13 locations is the label's
// logit (computed by the pure-Go head on the pooled features); the explain graph gives
// the same scores as the plain one, and every overlay is a 224×224 PNG.
func TestExplainCAMMeanIsLogit(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{headparams.Linear, headparams.MLP} {
		t.Run(kind, func(t *testing.T) { testCAMMeanIsLogit(t, kind) })
	}
}

// testCAMMeanIsLogit is TestExplainCAMMeanIsLogit for one head kind (the MLP's map is
// the head linearised at the image's features, so its mean is the logit too).
func testCAMMeanIsLogit(t *testing.T, kind string) {
	b, _ := squeezeBundle(t, kind, "")
	lib := sharedtest.ORTLib(t)
	paths := mimlImages(t, "1.jpg", "2.jpg", "77.jpg", "1500.jpg")
	plain, err := model.New(b, model.Options{Engine: "ort", ORTLib: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	ex, err := model.New(b, model.Options{Engine: "ort", ORTLib: lib, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	ctx := context.Background()
	want, err := plain.PredictFiles(ctx, paths)
	if err != nil {
		t.Fatal(err)
	}
	feats, _, _, err := plain.Features(ctx, paths)
	if err != nil {
		t.Fatal(err)
	}
	logits := b.Head.Logits(feats, len(paths))
	got, err := ex.ExplainFiles(ctx, paths, allLabels)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range got {
		if p.Err != nil {
			t.Fatal(p.Err)
		}
		for j, s := range p.Scores {
			if d := math.Abs(float64(s - want[i].Scores[j])); d > 1e-5 {
				t.Errorf("%s %s: score %v with explain, %v without", paths[i], b.Labels[j], s, want[i].Scores[j])
			}
		}
		if len(p.Maps) != len(b.Labels) {
			t.Fatalf("%s: %d maps", paths[i], len(p.Maps))
		}
		for j, lm := range p.Maps {
			if lm.Label != b.Labels[j] || lm.W != 13 || lm.H != 13 || len(lm.Values) != 169 {
				t.Fatalf("map %d: %s %dx%d %d values", j, lm.Label, lm.W, lm.H, len(lm.Values))
			}
			l := float64(logits[i*len(b.Labels)+j])
			if d := math.Abs(lm.Mean() - l); d > 1e-3*math.Max(1, math.Abs(l)) {
				t.Errorf("%s %s: map mean %.6f, logit %.6f", paths[i], lm.Label, lm.Mean(), l)
			}
			img, err := png.Decode(bytes.NewReader(lm.PNG))
			if err != nil {
				t.Fatalf("%s %s: overlay: %v", paths[i], lm.Label, err)
			}
			if r := img.Bounds(); r.Dx() != 224 || r.Dy() != 224 {
				t.Errorf("overlay %v", r)
			}
		}
	}
	// Predict with Options.Explain draws the predicted labels only.
	preds, err := ex.PredictFiles(ctx, paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range preds {
		if len(p.Maps) != len(p.Labels) {
			t.Fatalf("%d maps for %d predicted labels", len(p.Maps), len(p.Labels))
		}
		for k, lm := range p.Maps {
			if lm.Label != p.Labels[k].Label {
				t.Errorf("map %d is %s, label %s", k, lm.Label, p.Labels[k].Label)
			}
		}
	}
}

// TestExplainPerLocationHead checks the maps against the head applied to each
// location's vector of the spatial map (from backbone.SpatialModel): the folded 1×1
// convolution of the linear head on max-pooled features, and the MLP on avgmax features
// linearised at the image's pooled features (the location's vector standing for both
// halves).
func TestExplainPerLocationHead(t *testing.T) {
	t.Parallel()
	lib := sharedtest.ORTLib(t)
	paths := mimlImages(t, "7.jpg", "900.jpg")
	for _, tc := range []struct{ kind, pool string }{{headparams.MLP, backbone.PoolAvgMax}, {headparams.Linear, backbone.PoolMax}} {
		b, bb := squeezeBundle(t, tc.kind, tc.pool)
		m, err := model.New(b, model.Options{Engine: "ort", ORTLib: lib, Explain: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.ExplainFiles(context.Background(), paths, allLabels)
		if err != nil {
			t.Fatal(err)
		}
		feats, _, _, err := m.Features(context.Background(), paths)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		sm, err := bb.SpatialModel()
		if err != nil {
			t.Fatal(err)
		}
		eng, err := auto.Open(sm, auto.Options{Kind: "ort", ORTLib: lib})
		if err != nil {
			t.Fatal(err)
		}
		tl := b.Spec.TensorLen()
		x := make([]float32, len(paths)*tl)
		for i, p := range paths {
			if err := imageio.LoadFile(p, b.Spec, x[i*tl:(i+1)*tl], imageio.DecodeOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		spatial, err := eng.Run(context.Background(), x, len(paths))
		eng.Close()
		if err != nil {
			t.Fatal(err)
		}
		const c, hw = 512, 169
		worst := 0.0
		for i := range paths {
			rows := make([]float32, hw*b.Head.In)
			for l := 0; l < hw; l++ {
				for k := 0; k < c; k++ {
					v := spatial[i*c*hw+k*hw+l]
					rows[l*b.Head.In+k] = v
					if b.Head.In == 2*c {
						rows[l*b.Head.In+c+k] = v
					}
				}
			}
			want := b.Head.Logits(rows, hw)
			if tc.kind == headparams.MLP {
				// The MLP's map: the head linearised at the image's pooled features.
				w, bias, err := b.Head.LinearizeAt(feats[i*b.Head.In : (i+1)*b.Head.In])
				if err != nil {
					t.Fatal(err)
				}
				for l := 0; l < hw; l++ {
					for j := range b.Labels {
						s := float64(bias[j])
						for k, v := range rows[l*b.Head.In : (l+1)*b.Head.In] {
							s += float64(w[j*b.Head.In+k]) * float64(v)
						}
						want[l*len(b.Labels)+j] = float32(s)
					}
				}
			}
			for j := range b.Labels {
				for l := 0; l < hw; l++ {
					w := float64(want[l*len(b.Labels)+j])
					d := math.Abs(float64(got[i].Maps[j].Values[l])-w) / math.Max(1, math.Abs(w))
					worst = math.Max(worst, d)
				}
			}
		}
		if worst > 1e-3 {
			t.Errorf("%s/%s: per-location maps differ from the Go head by %.2g (relative)", tc.kind, tc.pool, worst)
		}
		t.Logf("%s/%s: worst relative difference %.2g", tc.kind, tc.pool, worst)
	}
}

// TestExplainFlatCut: a bundle whose cut has no spatial dimensions cannot explain: the
// error is bad input, names the cut and points to backbone inspect.
func TestExplainFlatCut(t *testing.T) {
	t.Parallel()
	bb, err := backbone.Load(filepath.Join("..", "backbone", "testdata", "tiny_gemm.onnx"), backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fm, err := bb.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	h, err := headparams.New(headparams.Linear, bb.FeatureDim, 0, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle.Bundle{Backbone: fm, BackboneInfo: bundle.BackboneInfo{Name: "tiny_gemm", FeatureNode: bb.FeatureNode, FeatureDim: bb.FeatureDim},
		Head: *h, Labels: []string{"a", "b"}, Thresholds: []float64{0.5, 0.5}, Spec: bb.Spec}
	_, err = model.New(b, model.Options{Engine: "go", Explain: true})
	if !errors.Is(err, errkind.ErrBadInput) || !strings.Contains(err.Error(), bb.FeatureNode) || !strings.Contains(err.Error(), "backbone inspect") {
		t.Fatalf("explain on a flat cut: %v", err)
	}
	// Without Explain the same bundle opens, and its Explain methods say why not.
	m, err := model.New(b, model.Options{Engine: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.ExplainFiles(context.Background(), nil, nil); !errors.Is(err, model.ErrNoExplain) {
		t.Fatalf("ExplainFiles without Explain: %v", err)
	}
}

// TestExplainEngines: the explain graph runs on the pure-Go engine too, with the
// maps ONNX Runtime gives.
func TestExplainEngines(t *testing.T) {
	t.Parallel()
	b, _ := squeezeBundle(t, headparams.MLP, backbone.PoolAvg)
	paths := mimlImages(t, "8.jpg")
	var got [2][]model.LabelMap
	for k, opt := range []model.Options{{Engine: "ort", ORTLib: sharedtest.ORTLib(t), Explain: true}, {Engine: "go", Explain: true}} {
		m, err := model.New(b, opt)
		if err != nil {
			t.Fatal(err)
		}
		preds, err := m.ExplainFiles(context.Background(), paths, allLabels)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		got[k] = preds[0].Maps
	}
	worst := 0.0
	for j := range got[0] {
		for l, v := range got[0][j].Values {
			w := float64(got[1][j].Values[l])
			worst = math.Max(worst, math.Abs(float64(v)-w)/math.Max(1, math.Abs(w)))
		}
	}
	if worst > 1e-3 {
		t.Errorf("ONNX Runtime and pure-Go maps differ by %.2g (relative)", worst)
	}
}
