package pipeline

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/headparams"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/train"
)

// mimlSubset writes a label file with the first n MIML images (the images stay in
// ../shared) and returns it with the images directory.
func mimlSubset(t *testing.T, dir string, n int) (labels, images string) {
	t.Helper()
	data := sharedtest.Dir(t, "data/miml-scenes")
	raw, err := os.ReadFile(filepath.Join(data, "labels_onehot.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(raw), "\n", n+2)
	labels = filepath.Join(dir, "subset.csv")
	if err := os.WriteFile(labels, []byte(strings.Join(lines[:n+1], "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return labels, filepath.Join(data, "images")
}

// Real MIML images on SqueezeNet's 512×13×13 map: the attention head and --head auto
// train on the cached maps, the bundles predict the run's scores (the run scored the
// float16-cached maps, predict the float32 ones: within 2e-3), auto records all three
// candidates and keeps the best by validation mAP.
func TestTrainSpatialHeadsMIML(t *testing.T) {
	bb := sharedtest.Dir(t, "models/squeezenet1.1")
	lib := sharedtest.ORTLib(t)
	dir := t.TempDir()
	labels, images := mimlSubset(t, dir, 120)
	base := TrainConfig{Data: labels, Images: images, Backbone: bb, Engine: "ort", ORTLib: lib,
		CacheDir: testCacheDir(dir), Seed: 1, Train: train.DefaultConfig()}
	base.Train.Epochs, base.Train.Backend = 3, "onnx"
	base.Train.Attention = headparams.AttnOptions{Dim: 16, MaxQueries: 2}
	for _, kind := range []string{head.Attention, HeadAuto} {
		t.Run(kind, func(t *testing.T) {
			cfg := base
			cfg.Train.Head = kind
			cfg.AttnEpochs = 3
			cfg.Out = filepath.Join(dir, kind+".mlb")
			res, err := Train(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			h := res.Bundle.Head
			if kind == head.Attention && (h.Kind != head.Attention || h.Channels != 512 || h.Tokens != 169 || h.Attn.Group != 3) {
				t.Fatalf("head %s %d×%d", h.Kind, h.Channels, h.Tokens)
			}
			if kind == HeadAuto {
				a := res.Auto
				if a == nil || len(a.Candidates) != 3 || a.Chosen != h.Kind {
					t.Fatalf("auto %+v, bundle head %s", a, h.Kind)
				}
				for _, c := range a.Candidates {
					if c.ValMAP > res.Fit.BestValMAP {
						t.Errorf("auto kept %s (val mAP %.4f) over %s (%.4f)", a.Chosen, res.Fit.BestValMAP, c.Head, c.ValMAP)
					}
				}
				var rec struct{ Auto *AutoChoice }
				if err := json.Unmarshal(res.Bundle.Training, &rec); err != nil || rec.Auto == nil || rec.Auto.Chosen != a.Chosen {
					t.Fatalf("training record auto %+v (%v)", rec.Auto, err)
				}
				t.Logf("auto: %s", a.Reason)
			}
			b, err := bundle.Read(cfg.Out)
			if err != nil {
				t.Fatal(err)
			}
			if b.BackboneInfo.FeatureDim != b.Head.In {
				t.Fatalf("backbone feature dim %d, head in %d", b.BackboneInfo.FeatureDim, b.Head.In)
			}
			m, err := model.LoadWith(cfg.Out, model.Options{Engine: "ort", ORTLib: lib})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			preds, err := m.PredictFiles(context.Background(), res.TestPaths[:6])
			if err != nil {
				t.Fatal(err)
			}
			var maxd float64
			for i, p := range preds {
				if p.Err != nil {
					t.Fatal(p.Err)
				}
				for j, s := range p.Scores {
					maxd = math.Max(maxd, math.Abs(float64(s-res.Scores[i][j])))
				}
			}
			t.Logf("%s (%s): test mAP %.4f; bundle vs run scores: max abs diff %.2g", kind, h.Kind, res.Test.MAP, maxd)
			if maxd > 2e-3 {
				t.Errorf("bundle predictions differ from training-time scores by %g", maxd)
			}
		})
	}
}
