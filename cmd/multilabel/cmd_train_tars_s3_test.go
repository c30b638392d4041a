package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/multilabel/multilabel/internal/fakes3"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/objstore"
)

// TestTrainS3TarsByRange: train over tar shards in an S3 server (listed and read by
// range, not downloaded) gives the run over the same shards on local disk.
func TestTrainS3TarsByRange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 60, 8)
	if err != nil {
		t.Fatal(err)
	}
	local := t.TempDir()
	if code, o := runCLI(t, "dataset", "pack", "--data", labels, "--out", filepath.Join(local, "r-%02d.tar"), "--shard-size", "8KB"); code != exitOK {
		t.Fatalf("pack: %d %s", code, o)
	}
	srv := fakes3.Start(t, "trtars")
	st := objstore.New(objstore.Options{Backoff: time.Millisecond})
	defer st.Close()
	tars, _ := filepath.Glob(filepath.Join(local, "r-*.tar"))
	if len(tars) < 2 {
		t.Fatalf("%d shards, want several", len(tars))
	}
	for _, f := range tars {
		b, _ := os.ReadFile(f)
		if err := st.Write(ctx, srv.URL("trtars", "tars/"+filepath.Base(f)), b); err != nil {
			t.Fatal(err)
		}
	}
	mapOf := func(data string) float64 {
		t.Helper()
		return trainTestMAP(t, "--data", data, "--backbone", bb, "--engine", "go", "--no-cache", "--epochs", "5", "--seed", "3")
	}
	want := mapOf(filepath.Join(local, "r-*.tar"))
	before := srv.Requests.Load()
	got := mapOf(srv.URL("trtars", "tars/r-*.tar"))
	if got != want {
		t.Errorf("test mAP %v over the bucket's shards, %v over local ones", got, want)
	}
	t.Logf("test mAP %.4f both ways; %d requests to the bucket", got, srv.Requests.Load()-before)
}
