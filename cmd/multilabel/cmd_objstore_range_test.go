package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/internal/fakes3"
	"github.com/multilabel/multilabel/objstore"
)

// TestFeaturesS3TarUnavailable: features over tar shards in a bucket that keeps failing
// exits 1 (infrastructure, not input) with the object named, after its retries; once the
// bucket answers again the same command works.
func TestFeaturesS3TarUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := shardFixture(t, 6)
	bb := tinyBackbone(t)
	local := t.TempDir()
	if code, o := runCLI(t, "dataset", "pack", "--data", filepath.Join(dir, "labels.csv"), "--out", filepath.Join(local, "u-%02d.tar"), "--shard-size", "3KB"); code != exitOK {
		t.Fatalf("pack: %d %s", code, o)
	}
	srv := fakes3.Start(t, "flaky")
	st := objstore.New(objstore.Options{Backoff: time.Millisecond})
	defer st.Close()
	tars, _ := filepath.Glob(filepath.Join(local, "u-*.tar"))
	for _, f := range tars {
		b, _ := os.ReadFile(f)
		if err := st.Write(ctx, srv.URL("flaky", "tars/"+filepath.Base(f)), b); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"features", "--backbone", bb, "--engine", "go", "--no-cache", "--data", srv.URL("flaky", "tars/u-00.tar"), "--out", filepath.Join(local, "f.npy")}
	srv.FailNext(1 << 20)
	code, _, stderr := runCLIErr(t, args...)
	srv.FailNext(0)
	if code != exitFailure || !strings.Contains(stderr, "u-00.tar") || !strings.Contains(stderr, "attempts") {
		t.Errorf("failing bucket: exit %d: %s", code, stderr)
	}
	if code, o := runCLI(t, args...); code != exitOK {
		t.Errorf("after recovery: exit %d: %s", code, o)
	}
}
