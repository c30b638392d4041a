package stage

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/objstore"
	"github.com/multilabel/multilabel/shard"
)

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStageAndPublish: a label file URL without an images prefix finds its images beside
// it; row outputs go up manifest last, and a report folder keeps its layout.
func TestStageAndPublish(t *testing.T) {
	ctx := context.Background()
	bucket := t.TempDir()
	write(t, filepath.Join(bucket, "set", "labels.csv"), "image,labels\na.png,cat\nsub/b.png,dog\n")
	write(t, filepath.Join(bucket, "set", "a.png"), "A")
	write(t, filepath.Join(bucket, "set", "sub", "b.png"), "B")
	s := &Stager{Store: objstore.New(objstore.Options{}), Dir: t.TempDir()}
	defer s.Store.Close()
	local, opt, err := s.Stage(ctx, "file://"+bucket+"/set/labels.csv", dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if opt.ImagesDir != filepath.Join(s.Dir, "images") {
		t.Errorf("images dir %q", opt.ImagesDir)
	}
	d, err := dataset.Load(local, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, smp := range d.Samples {
		if _, err := os.Stat(smp.Path); err != nil {
			t.Errorf("image %s not staged: %v", smp.Image, err)
		}
	}

	// Rows: an old manifest in the bucket is replaced; without a local manifest none is left.
	out := "file://" + bucket + "/out/p.csv"
	write(t, filepath.Join(bucket, "out", "p.csv.manifest.json"), "old")
	lp, err := s.FetchRows(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(shard.ManifestPath(lp)); err != nil {
		t.Errorf("FetchRows did not fetch the manifest: %v", err)
	}
	write(t, lp, "path,cat\n")
	write(t, shard.ManifestPath(lp), "new")
	if err := s.PublishRows(ctx, lp, out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(bucket, "out", "p.csv.manifest.json")); string(b) != "new" {
		t.Errorf("manifest in the bucket %q", b)
	}
	os.Remove(shard.ManifestPath(lp))
	if err := s.PublishRows(ctx, lp, out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(bucket, "out", "p.csv.manifest.json")); err == nil {
		t.Error("a stale manifest is left in the bucket")
	}

	rep := t.TempDir()
	write(t, filepath.Join(rep, "index.html"), "<html>")
	write(t, filepath.Join(rep, "img", "x.png"), "X")
	if err := s.PublishDir(ctx, rep, "file://"+bucket+"/report"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"index.html", "img/x.png"} {
		if _, err := os.Stat(filepath.Join(bucket, "report", f)); err != nil {
			t.Errorf("report file %s: %v", f, err)
		}
	}
	// A missing local file is an error naming it, not retried.
	if err := s.Publish(ctx, filepath.Join(rep, "nope"), "file://"+bucket+"/x"); err == nil {
		t.Error("publishing a missing file succeeded")
	}
}
