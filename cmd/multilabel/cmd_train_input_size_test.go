package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// TestTrainInputSizeMIML: --input-size 384x256 on real MIML images trains at MIML's
// native size; the bundle records the spec, eval of the bundle gives the training run's
// test mAP, predict takes an image in, and export declares the new input size.
func TestTrainInputSizeMIML(t *testing.T) {
	t.Parallel()
	data := sharedtest.Dir(t, "data/miml-scenes")
	models := sharedtest.Dir(t, "models/squeezenet1.1")
	ortLib := sharedtest.ORTLib(t)
	dir := t.TempDir()
	tr, te := filepath.Join(dir, "train.csv"), filepath.Join(dir, "test.csv")
	writeMIMLPart(t, filepath.Join(data, "labels_onehot.csv"), tr, 15, 0) // 100 images
	writeMIMLPart(t, filepath.Join(data, "labels_onehot.csv"), te, 30, 7) // 50 images
	images := filepath.Join(data, "images")
	mlb := filepath.Join(dir, "m.mlb")
	code, out := runModelCmd(t, "train", "--data", tr, "--test", te, "--images", images,
		"--backbone", filepath.Join(models, "squeezenet1.1-fp16.onnx"), "--ort-lib", ortLib, "--no-cache",
		"--head", "linear", "--epochs", "10", "--input-size", "384x256", "--out", mlb, "--json", "--quiet")
	if code != exitOK {
		t.Fatalf("train --input-size 384x256: exit %d: %s", code, out)
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
	if b.Spec.Width != 384 || b.Spec.Height != 256 || b.Spec.Resize != "squish" {
		t.Errorf("bundle spec %+v, want 384x256 squish", b.Spec)
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
	img, err := filepath.Glob(filepath.Join(images, "1.jpg"))
	if err != nil || len(img) != 1 {
		t.Fatalf("MIML image 1.jpg: %v", err)
	}
	if code, out = runModelCmd(t, "predict", "--model", mlb, "--ort-lib", ortLib, "--json", img[0]); code != exitOK {
		t.Fatalf("predict: exit %d: %s", code, out)
	}
	code, out = runCLI(t, "export", "--model", mlb, "--out", filepath.Join(dir, "m.onnx"))
	if code != exitOK {
		t.Fatalf("export: exit %d: %s", code, out)
	}
	for _, want := range []string{"[N,3,256,384]", "resized to 384x256 ignoring the aspect ratio"} {
		if !strings.Contains(out, want) {
			t.Errorf("export message lacks %q:\n%s", want, out)
		}
	}
}

// TestTrainInputSizeBadInput: a malformed --input-size is a usage error naming the
// flag; a size the backbone's cut cannot take is refused naming the size.
func TestTrainInputSizeBadInput(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"abc", "384x", "8x8", "0", "384x256x3"} {
		if _, _, err := parseInputSize(v); err == nil || !strings.Contains(err.Error(), "--input-size") {
			t.Errorf("--input-size %q: err %v, want a usage error naming the flag", v, err)
		}
	}
	if w, h, err := parseInputSize("320"); err != nil || w != 320 || h != 320 {
		t.Errorf("--input-size 320: %d %d %v", w, h, err)
	}
	models := sharedtest.Dir(t, "models/squeezenet1.1")
	data := sharedtest.Dir(t, "data/miml-scenes")
	code, _, out := runCLIErr(t, "train", "--data", filepath.Join(data, "labels_onehot.csv"), "--images", filepath.Join(data, "images"),
		"--backbone", filepath.Join(models, "squeezenet1.1-fp16.onnx"), "--no-cache", "--input-size", "16x16", "--out", filepath.Join(t.TempDir(), "m.mlb"))
	if code != exitUsage || !strings.Contains(out, "input size 16x16") || !strings.Contains(out, "cannot take it") {
		t.Errorf("--input-size 16x16: exit %d: %s", code, out)
	}
}
