package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/multilabel/multilabel/internal/fakes3"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/objstore"
)

// uploadTars packs the labelled images of labels into tar shards in a local folder and
// copies them to prefix in the bucket; it returns the local pattern and the bytes
// uploaded.
func uploadTars(t *testing.T, st *objstore.Store, srv *fakes3.Server, bucket, prefix, labels, size string) (string, int64) {
	t.Helper()
	local := t.TempDir()
	if code, o := runCLI(t, "dataset", "pack", "--data", labels, "--out", filepath.Join(local, "s-%02d.tar"), "--shard-size", size); code != exitOK {
		t.Fatalf("pack: %d %s", code, o)
	}
	tars, _ := filepath.Glob(filepath.Join(local, "s-*.tar"))
	if len(tars) < 2 {
		t.Fatalf("%d shards, want several", len(tars))
	}
	var total int64
	for _, f := range tars {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		total += int64(len(b))
		if err := st.Write(context.Background(), srv.URL(bucket, prefix+filepath.Base(f)), b); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(local, "s-*.tar"), total
}

// TestEvalS3TarsByRange: eval --model over tar shards in an S3 server reads them by
// range (ranged requests, nothing downloaded whole) and gives the metrics of the same
// shards on local disk; so do eval --predictions-out and eval --predictions over them.
func TestEvalS3TarsByRange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 48, 9)
	if err != nil {
		t.Fatal(err)
	}
	srv := fakes3.Start(t, "evtars")
	st := objstore.New(objstore.Options{Backoff: time.Millisecond})
	defer st.Close()
	localTars, _ := uploadTars(t, st, srv, "evtars", "tars/", labels, "8KB")
	bucketTars := srv.URL("evtars", "tars/s-*.tar")
	m := filepath.Join(dir, "m.mlb")
	if code, o := runCLI(t, "train", "--data", localTars, "--backbone", bb, "--engine", "go", "--no-cache", "--epochs", "3", "--quiet", "--seed", "2", "--out", m); code != exitOK {
		t.Fatalf("train: %d %s", code, o)
	}
	metrics := func(args ...string) map[string]any {
		t.Helper()
		code, o := runCLI(t, append([]string{"eval", "--engine", "go", "--json"}, args...)...)
		if code != exitOK {
			t.Fatalf("eval %q: %d %s", args, code, o)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(o), &v); err != nil {
			t.Fatalf("%v: %s", err, o)
		}
		delete(v, "meta") // names the data source
		return v
	}
	want := metrics("--model", m, "--data", localTars)
	ranged := srv.Ranged.Load()
	got := metrics("--model", m, "--data", bucketTars)
	if n := srv.Ranged.Load() - ranged; n < 48 {
		t.Errorf("%d ranged requests for 48 images: the shards were not read by range", n)
	}
	if a, b := mustJSON(t, got), mustJSON(t, want); !bytes.Equal(a, b) {
		t.Errorf("eval over the bucket's shards:\n%s\nover local ones:\n%s", a, b)
	}
	// Sharded predictions over the bucket, then the metrics of the merged rows.
	var shards []string
	for i := range 2 {
		p := filepath.Join(dir, "p.csv")
		if code, o := runCLI(t, "eval", "--engine", "go", "--model", m, "--data", bucketTars, "--shard", []string{"0/2", "1/2"}[i], "--predictions-out", p); code != exitOK {
			t.Fatalf("eval --shard %d/2: %d %s", i, code, o)
		}
		shards = append(shards, filepath.Join(dir, []string{"p.shard-0-of-2.csv", "p.shard-1-of-2.csv"}[i]))
	}
	merged := filepath.Join(dir, "merged.csv")
	if code, o := runCLI(t, append([]string{"predict", "merge", merged}, shards...)...); code != exitOK {
		t.Fatalf("predict merge: %d %s", code, o)
	}
	fromPreds := metrics("--predictions", merged, "--data", bucketTars)
	localPreds := metrics("--predictions", merged, "--data", localTars)
	if a, b := mustJSON(t, fromPreds), mustJSON(t, localPreds); !bytes.Equal(a, b) {
		t.Errorf("eval --predictions over the bucket's shards:\n%s\nover local ones:\n%s", a, b)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTrainFeaturesS3TarsByRange: train --features with --data tar shards in an S3
// server lists them by range, reading their JSON members and skipping the image bytes
// (here 1.5 MiB a member), and trains the head of the same shards on local disk.
func TestTrainFeaturesS3TarsByRange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 24, 10)
	if err != nil {
		t.Fatal(err)
	}
	feats := filepath.Join(dir, "f.npy")
	if code, o := runCLI(t, "features", "--backbone", bb, "--data", labels, "--engine", "go", "--no-cache", "--out", feats); code != exitOK {
		t.Fatalf("features: %d %s", code, o)
	}
	// The same names and labels, each image followed by 1.5 MiB that train --features
	// must not read (it reads no image).
	padded := t.TempDir()
	imgs, _ := filepath.Glob(filepath.Join(dir, "img*.png"))
	for _, p := range imgs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(padded, filepath.Base(p)), append(b, make([]byte, 3<<19)...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lb, _ := os.ReadFile(labels)
	if err := os.WriteFile(filepath.Join(padded, "labels.csv"), lb, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := fakes3.Start(t, "ftars")
	st := objstore.New(objstore.Options{Backoff: time.Millisecond})
	defer st.Close()
	localTars, total := uploadTars(t, st, srv, "ftars", "tars/", filepath.Join(padded, "labels.csv"), "4MB")
	mapOf := func(data string) float64 {
		t.Helper()
		return trainTestMAP(t, "--features", feats, "--backbone", bb, "--data", data, "--epochs", "3", "--seed", "4")
	}
	want := mapOf(localTars)
	ranged := srv.Ranged.Load()
	got := mapOf(srv.URL("ftars", "tars/s-*.tar"))
	skips := srv.Ranged.Load() - ranged
	if got != want {
		t.Errorf("test mAP %v over the bucket's shards, %v over local ones", got, want)
	}
	// Listing a shard is one stream from its start; each image member over 1 MiB is
	// skipped by starting a new range after it (a download reads whole objects, with no
	// Range header at all).
	if skips < 24/2 {
		t.Errorf("%d ranged requests listing shards of 24 images of 1.5 MiB: the images were not skipped", skips)
	}
	t.Logf("test mAP %.4f both ways; %d ranged requests; %d bytes of shards in the bucket", got, skips, total)
}
