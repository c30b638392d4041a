package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/internal/fakes3"
	"github.com/multilabel/multilabel/objstore"
)

// TestFeaturesS3: features reads a label file and images, or tar shards, from an S3
// server started in-process, writes two shards to it, merges them there, and the result
// equals the local single-process output.
func TestFeaturesS3(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := shardFixture(t, 8)
	bb := tinyBackbone(t)
	local := t.TempDir()
	srv := fakes3.Start(t, "data", "out")
	st := objstore.New(objstore.Options{Backoff: time.Millisecond})
	defer st.Close()
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, en.Name()))
		if err := st.Write(ctx, srv.URL("data", "set/"+en.Name()), b); err != nil {
			t.Fatal(err)
		}
	}
	if code, o := runCLI(t, "dataset", "pack", "--data", filepath.Join(dir, "labels.csv"), "--out", filepath.Join(local, "s-%02d.tar"), "--shard-size", "3KB"); code != exitOK {
		t.Fatalf("pack: %d %s", code, o)
	}
	bbBytes, _ := os.ReadFile(bb)
	if err := st.Write(ctx, srv.URL("data", "models/tiny.onnx"), bbBytes); err != nil {
		t.Fatal(err)
	}
	tars, _ := filepath.Glob(filepath.Join(local, "s-*.tar"))
	for _, f := range tars {
		b, _ := os.ReadFile(f)
		if err := st.Write(ctx, srv.URL("data", "tars/"+filepath.Base(f)), b); err != nil {
			t.Fatal(err)
		}
	}
	base := []string{"features", "--backbone", bb, "--engine", "go", "--no-cache", "--workers", "1"}
	whole := filepath.Join(local, "whole.npy")
	if code, o := runCLI(t, append(base, "--data", filepath.Join(dir, "labels.csv"), "--out", whole)...); code != exitOK {
		t.Fatalf("local: %d %s", code, o)
	}
	for _, src := range []struct{ name, data, images string }{
		{"csv", srv.URL("data", "set/labels.csv"), srv.URL("data", "set/")},
		{"tar", srv.URL("data", "tars/s-*.tar"), ""},
	} {
		var shards []string
		for i := range 2 {
			args := append(append([]string{}, base...), "--data", src.data, "--out", srv.URL("out", src.name+"/f.npy"), "--shard", fmt.Sprintf("%d/2", i))
			if src.images != "" {
				args = append(args, "--images", src.images)
			} else {
				args[2] = srv.URL("data", "models/tiny.onnx") // the backbone from the bucket too
			}
			if code, o := runCLI(t, args...); code != exitOK {
				t.Fatalf("%s shard %d: %d %s", src.name, i, code, o)
			}
			shards = append(shards, srv.URL("out", fmt.Sprintf("%s/f.shard-%d-of-2.npy", src.name, i)))
		}
		merged := srv.URL("out", src.name+"/merged.npy")
		if code, o := runCLI(t, "features", "merge", merged, strings.Replace(shards[0], "shard-0-of-2", "shard-{0..1}-of-2", 1)); code != exitOK {
			t.Fatalf("%s merge: %d %s", src.name, code, o)
		}
		for _, suf := range []string{"", ".names.txt", ".manifest.json"} {
			u := strings.Replace(merged, "merged.npy", "merged.npy"+suf, 1)
			got, err := st.ReadAll(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, readAll(t, whole+suf)[0]) {
				t.Errorf("%s: merged%s in S3 differs from the local single-process output", src.name, suf)
			}
		}
	}
	// An object that is not there is bad input naming it.
	code, _, stderr := runCLIErr(t, append(base, "--data", srv.URL("data", "set/nope.csv"))...)
	if code != exitUsage || !strings.Contains(stderr, "nope.csv") {
		t.Errorf("missing object: exit %d: %s", code, stderr)
	}
}
