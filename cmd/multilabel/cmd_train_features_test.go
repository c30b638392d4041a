package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/internal/fakes3"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/objstore"
)

// TestTrainFeaturesCLI: train --features trains from the output of features (images
// deleted in between, so they are not read), locally and with every path in an S3
// server started in-process; features of another backbone and a labelled image without
// a row are exit 2 naming the file, the backbone or the image.
func TestTrainFeaturesCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 80, 6)
	if err != nil {
		t.Fatal(err)
	}
	feats := filepath.Join(dir, "f.npy")
	if code, o := runCLI(t, "features", "--backbone", bb, "--data", labels, "--engine", "go", "--no-cache", "--out", feats); code != exitOK {
		t.Fatalf("features: %d %s", code, o)
	}
	imgs, _ := filepath.Glob(filepath.Join(dir, "img*.png"))
	for _, p := range imgs {
		os.Remove(p)
	}
	base := []string{"train", "--features", feats, "--backbone", bb, "--data", labels, "--epochs", "3", "--quiet"}
	out := filepath.Join(dir, "m.mlb")
	code, o := runCLI(t, append(base, "--out", out, "--json")...)
	if code != exitOK {
		t.Fatalf("train --features: %d %s", code, o)
	}
	var sum struct {
		Engine string
		Splits struct{ Train, Val, Test int }
		Test   *struct {
			MAP float64 `json:"mAP"`
		}
	}
	if err := json.Unmarshal([]byte(o), &sum); err != nil {
		t.Fatalf("%v: %s", err, o)
	}
	if sum.Splits.Train+sum.Splits.Val+sum.Splits.Test != 80 || sum.Test == nil || !strings.Contains(sum.Engine, "f.npy") {
		t.Fatalf("summary %+v", sum)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}

	// Another backbone: other bytes, so another sha256.
	other := filepath.Join(dir, "other.onnx")
	raw, _ := os.ReadFile(bb)
	if err := os.WriteFile(other, append(raw, 0x3a, 0), 0o644); err != nil { // an empty doc_string field
		t.Fatal(err)
	}
	spec, _ := os.ReadFile(filepath.Join(dir, "tiny.json"))
	os.WriteFile(filepath.Join(dir, "other.json"), spec, 0o644)
	code, _, stderr := runCLIErr(t, "train", "--features", feats, "--backbone", other, "--data", labels, "--out", filepath.Join(dir, "x.mlb"))
	if code != exitUsage || !strings.Contains(stderr, "f.npy") || !strings.Contains(stderr, "other.onnx") || !strings.Contains(stderr, "backbone sha256") {
		t.Errorf("other backbone: exit %d: %s", code, stderr)
	}
	extra := filepath.Join(dir, "extra.csv")
	lb, _ := os.ReadFile(labels)
	os.WriteFile(extra, append(lb, []byte("elsewhere.png,1,0,0\n")...), 0o644)
	code, _, stderr = runCLIErr(t, "train", "--features", feats, "--backbone", bb, "--data", extra, "--out", filepath.Join(dir, "x.mlb"))
	if code != exitUsage || !strings.Contains(stderr, "elsewhere.png") || !strings.Contains(stderr, "no row") {
		t.Errorf("missing name: exit %d: %s", code, stderr)
	}
	if code, o := runCLI(t, append(base, "--unfreeze", "1", "--out", filepath.Join(dir, "x.mlb"))...); code != exitUsage {
		t.Errorf("--features --unfreeze: exit %d: %s", code, o)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.mlb")); err == nil {
		t.Error("a refused run wrote a bundle")
	}

	// Everything in the bucket (no image there: they are not needed).
	ctx := context.Background()
	srv := fakes3.Start(t, "data", "out")
	st := objstore.New(objstore.Options{Backoff: time.Millisecond})
	defer st.Close()
	for _, f := range []string{"f.npy", "f.npy.names.txt", "f.npy.manifest.json", "labels.csv", "tiny.onnx", "tiny.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Write(ctx, srv.URL("data", "run/"+f), b); err != nil {
			t.Fatal(err)
		}
	}
	u := srv.URL("out", "models/m.mlb")
	code, o = runCLI(t, "train", "--features", srv.URL("data", "run/f.npy"), "--backbone", srv.URL("data", "run/tiny.onnx"),
		"--data", srv.URL("data", "run/labels.csv"), "--epochs", "3", "--quiet", "--out", u)
	if code != exitOK {
		t.Fatalf("train --features s3://: %d %s", code, o)
	}
	if ok, err := st.Exists(ctx, u); err != nil || !ok {
		t.Fatalf("bundle not uploaded: %v %v", ok, err)
	}
	code, _, stderr = runCLIErr(t, "train", "--features", srv.URL("data", "run/g.npy"), "--backbone", srv.URL("data", "run/tiny.onnx"),
		"--data", srv.URL("data", "run/labels.csv"), "--out", u)
	if code != exitUsage || !strings.Contains(stderr, "g.npy") {
		t.Errorf("missing features object: exit %d: %s", code, stderr)
	}
}
