package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// TestTrainJoinedCutsMIML: --feature-node fire8/concat_1,fire9/concat_1 on real MIML
// images trains a head on the two maps joined (1,024 values a row); the bundle records
// the joined cut, eval of the bundle gives the training run's test mAP, and predict
// --explain draws maps from it. features --input-size makes the rows train --features
// takes with the same --input-size and --feature-node, and refuses to mix sizes.
func TestTrainJoinedCutsMIML(t *testing.T) {
	t.Parallel()
	data := sharedtest.Dir(t, "data/miml-scenes")
	models := sharedtest.Dir(t, "models/squeezenet1.1")
	ortLib := sharedtest.ORTLib(t)
	dir := t.TempDir()
	tr, te := filepath.Join(dir, "train.csv"), filepath.Join(dir, "test.csv")
	writeMIMLPart(t, filepath.Join(data, "labels_onehot.csv"), tr, 15, 0) // 100 images
	writeMIMLPart(t, filepath.Join(data, "labels_onehot.csv"), te, 30, 7) // 50 images
	images := filepath.Join(data, "images")
	bb := filepath.Join(models, "squeezenet1.1-fp16.onnx")
	const cuts = "fire8/concat_1,fire9/concat_1"
	mlb := filepath.Join(dir, "m.mlb")
	code, out := runModelCmd(t, "train", "--data", tr, "--test", te, "--images", images,
		"--backbone", bb, "--ort-lib", ortLib, "--no-cache", "--feature-node", cuts, "--input-size", "256x192",
		"--head", "linear", "--epochs", "10", "--out", mlb, "--json", "--quiet")
	if code != exitOK {
		t.Fatalf("train --feature-node %s: exit %d: %s", cuts, code, out)
	}
	var s struct {
		Test struct {
			MAP float64 `json:"mAP"`
		} `json:"test"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if s.Test.MAP < 0.6 {
		t.Errorf("test mAP %.3f < 0.6", s.Test.MAP)
	}
	b, err := bundle.Read(mlb)
	if err != nil {
		t.Fatal(err)
	}
	if b.BackboneInfo.FeatureNode != "concat("+cuts+")" || b.BackboneInfo.FeatureDim != 1024 || b.Head.In != 1024 {
		t.Errorf("bundle backbone %+v, head in %d; want the joined cut, 1024 values", b.BackboneInfo, b.Head.In)
	}
	code, out = runModelCmd(t, "eval", "--model", mlb, "--data", te, "--images", images, "--ort-lib", ortLib, "--json")
	if code != exitOK {
		t.Fatalf("eval: exit %d: %s", code, out)
	}
	var ev struct {
		MAP float64 `json:"mAP"`
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if math.Abs(ev.MAP-s.Test.MAP) > 1e-4 {
		t.Errorf("eval of the bundle: mAP %.6f, training run's test mAP %.6f", ev.MAP, s.Test.MAP)
	}
	maps := filepath.Join(dir, "maps")
	code, out = runModelCmd(t, "predict", "--model", mlb, "--ort-lib", ortLib, "--threshold", "0", "--top-k", "1", "--explain", maps, "--json", filepath.Join(images, "1.jpg"))
	if code != exitOK {
		t.Fatalf("predict --explain: exit %d: %s", code, out)
	}
	if pngs, _ := filepath.Glob(filepath.Join(maps, "1.*.png")); len(pngs) != 1 {
		t.Errorf("predict --explain wrote %v, want one map of 1.jpg", pngs)
	}

	// features --input-size → train --features with the same size and cut.
	npy := filepath.Join(dir, "f.npy")
	code, out = runModelCmd(t, "features", "--data", tr, "--images", images, "--backbone", bb, "--ort-lib", ortLib,
		"--no-cache", "--feature-node", cuts, "--input-size", "256x192", "--out", npy, "--json")
	if code != exitOK {
		t.Fatalf("features --input-size: exit %d: %s", code, out)
	}
	raw, err := os.ReadFile(npy + ".manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var man struct {
		Dim  int `json:"dim"`
		Rows int `json:"rows"`
	}
	if err := json.Unmarshal(raw, &man); err != nil || man.Dim != 1024 || man.Rows != 100 {
		t.Fatalf("manifest %s: %v; want 100 rows of 1024", raw, err)
	}
	code, out = runModelCmd(t, "train", "--data", tr, "--features", npy, "--backbone", bb, "--feature-node", cuts, "--input-size", "256x192",
		"--head", "linear", "--epochs", "3", "--split", "0.8,0.2", "--json", "--quiet")
	if code != exitOK {
		t.Fatalf("train --features (same size): exit %d: %s", code, out)
	}
	code, _, stderr := runCLIErr(t, "train", "--data", tr, "--features", npy, "--backbone", bb, "--feature-node", cuts,
		"--head", "linear", "--epochs", "3", "--split", "0.8,0.2", "--json", "--quiet")
	if code == exitOK || !strings.Contains(stderr, "were not extracted with --backbone") || !strings.Contains(stderr, "256x192") {
		t.Fatalf("train --features made at 256x192 without --input-size: exit %d: %s", code, stderr)
	}
}
