package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/internal/fakes3"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/objstore"
)

// TestTrainPredictEvalS3: train, predict, eval and export with every input and output
// in an S3 bucket served in-process: the label file, its images, the backbone, the
// bundle, the report, the predictions and the exported graph; serve loads the bundle
// from the bucket.
func TestTrainPredictEvalS3(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	if _, _, err := modeltest.WriteDataset(dir, 60, 3); err != nil {
		t.Fatal(err)
	}
	srv := fakes3.Start(t, "in", "out")
	st := objstore.New(objstore.Options{Backoff: time.Millisecond})
	defer st.Close()
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, en.Name()))
		if err := st.Write(ctx, srv.URL("in", "set/"+en.Name()), b); err != nil {
			t.Fatal(err)
		}
	}
	data, bb := srv.URL("in", "set/labels.csv"), srv.URL("in", "set/tiny.onnx")
	mlb := srv.URL("out", "models/m.mlb")
	if code, o := runCLI(t, "train", "--data", data, "--backbone", bb, "--out", mlb, "--report", srv.URL("out", "report"),
		"--engine", "go", "--no-cache", "--epochs", "30", "--lr", "0.05", "--quiet", "--seed", "2"); code != exitOK || !strings.Contains(o, mlb) {
		t.Fatalf("train: exit %d: %s", code, o)
	}
	for _, k := range []string{"models/m.mlb", "report/metrics.json", "report/index.html"} {
		if ok, err := st.Exists(ctx, srv.URL("out", k)); err != nil || !ok {
			t.Errorf("%s not in the bucket (%v)", k, err)
		}
	}
	// predict: the bundle from the bucket, the scores CSV (and its manifest) to it.
	preds := srv.URL("out", "p/preds.csv")
	if code, o := runCLI(t, "predict", "--model", mlb, "--engine", "go", "--out", preds, filepath.Join(dir, "img001.png"), filepath.Join(dir, "img002.png")); code != exitOK {
		t.Fatalf("predict: exit %d: %s", code, o)
	}
	got, err := st.ReadAll(ctx, preds)
	if err != nil || !strings.HasPrefix(string(got), "path,") || strings.Count(string(got), "\n") != 3 {
		t.Errorf("predictions in the bucket: %q (%v)", got, err)
	}
	if ok, _ := st.Exists(ctx, preds+".manifest.json"); !ok {
		t.Error("no predictions manifest in the bucket")
	}
	// A shard whose output is complete in the bucket is not redone.
	for i := range 2 {
		code, o := runCLI(t, "predict", "--model", mlb, "--engine", "go", "--out", preds, "--shard", "0/2", filepath.Join(dir, "img001.png"), filepath.Join(dir, "img002.png"))
		if code != exitOK || (i == 1) != strings.Contains(o, "already complete") {
			t.Errorf("predict --shard 0/2, run %d: exit %d: %q", i+1, code, o)
		}
	}
	if ok, _ := st.Exists(ctx, srv.URL("out", "p/preds.shard-0-of-2.csv.manifest.json")); !ok {
		t.Error("no shard manifest in the bucket")
	}
	// eval --model: truth and images from the bucket; metrics JSON, then a predictions CSV
	// written to the bucket and evaluated from it.
	code, o := runCLI(t, "eval", "--model", mlb, "--data", data, "--engine", "go", "--json-out", srv.URL("out", "eval/m.json"))
	if code != exitOK || !strings.Contains(o, "mAP") {
		t.Fatalf("eval --model: exit %d: %s", code, o)
	}
	if b, err := st.ReadAll(ctx, srv.URL("out", "eval/m.json")); err != nil || !strings.Contains(string(b), "mAP") {
		t.Errorf("eval JSON in the bucket: %.80q (%v)", b, err)
	}
	po := srv.URL("out", "eval/p.csv")
	if code, o := runCLI(t, "eval", "--model", mlb, "--data", data, "--images", srv.URL("in", "set/"), "--engine", "go", "--predictions-out", po); code != exitOK || !strings.Contains(o, po) {
		t.Fatalf("eval --predictions-out: exit %d: %s", code, o)
	}
	if code, o := runCLI(t, "eval", "--predictions", po, "--data", data); code != exitOK || !strings.Contains(o, "mAP") {
		t.Fatalf("eval --predictions: exit %d: %s", code, o)
	}
	// export: bundle in, ONNX graph out.
	onnx := srv.URL("out", "export/m.onnx")
	if code, o := runCLI(t, "export", "--model", mlb, "--out", onnx); code != exitOK {
		t.Fatalf("export: exit %d: %s", code, o)
	}
	if b, err := st.ReadAll(ctx, onnx); err != nil || len(b) < 100 {
		t.Errorf("exported graph in the bucket: %d bytes (%v)", len(b), err)
	}
	// serve: the bundle from the bucket; it serves until its context ends.
	sctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if code, _, stderr := runCLICtx(t, sctx, "serve", "--model", mlb, "--engine", "go", "--addr", "127.0.0.1:0"); code != exitOK || !strings.Contains(stderr, "serving") {
		t.Errorf("serve: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLIErr(t, "serve", "--model", srv.URL("out", "models/nope.mlb"), "--engine", "go", "--addr", "127.0.0.1:0"); code != exitUsage || !strings.Contains(stderr, "nope.mlb") {
		t.Errorf("serve, missing bundle: exit %d: %s", code, stderr)
	}
	// A bundle that is not in the bucket is bad input naming it.
	if code, _, stderr := runCLIErr(t, "predict", "--model", srv.URL("out", "models/nope.mlb"), filepath.Join(dir, "img001.png")); code != exitUsage || !strings.Contains(stderr, "nope.mlb") {
		t.Errorf("missing bundle: exit %d: %s", code, stderr)
	}
}
