package objstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/internal/fakes3"
	"github.com/multilabel/multilabel/objstore"
)

func TestS3(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := fakes3.Start(t, "data")
	st := objstore.New(objstore.Options{Attempts: 3, Backoff: time.Millisecond})
	defer st.Close()
	u := srv.URL("data", "dir/a.txt")
	if err := st.Write(ctx, u, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, srv.URL("data", "dir/b.txt"), []byte("world")); err != nil {
		t.Fatal(err)
	}
	got, err := st.ReadAll(ctx, u)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q %v", got, err)
	}
	list, err := st.List(ctx, srv.URL("data", "dir/"))
	if err != nil || len(list) != 2 || list[1] != srv.URL("data", "dir/b.txt") {
		t.Fatalf("list %v %v", list, err)
	}
	// A request failing twice is retried (with backoff) and succeeds.
	srv.FailNext(2)
	if got, err := st.ReadAll(ctx, u); err != nil || string(got) != "hello" {
		t.Fatalf("after 2 failures: %q %v", got, err)
	}
	// A write failing every time ends with a clear error naming the object, and leaves
	// no object at the key.
	c := srv.URL("data", "dir/c.txt")
	srv.FailNext(1000)
	err = st.Write(ctx, c, []byte("half"))
	srv.FailNext(0)
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts") || !strings.Contains(err.Error(), "dir/c.txt") {
		t.Fatalf("failing write: %v", err)
	}
	if ok, err := st.Exists(ctx, c); err != nil || ok {
		t.Fatalf("a failed write left an object (%v, %v)", ok, err)
	}
	// A missing object or bucket is bad input, not retried.
	before := srv.Requests.Load()
	if _, err := st.ReadAll(ctx, srv.URL("data", "nope")); !errkind.IsBadInput(err) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("missing object: %v", err)
	}
	if n := srv.Requests.Load() - before; n != 1 {
		t.Errorf("a missing object took %d requests, want 1 (not retried)", n)
	}
	if _, err := st.ReadAll(ctx, srv.URL("nobucket", "k")); !errkind.IsBadInput(err) {
		t.Fatalf("missing bucket: %v", err)
	}
	if _, err := st.ReadAll(ctx, "s3:///k"); !errkind.IsBadInput(err) {
		t.Fatalf("no bucket name: %v", err)
	}
}

func TestFileURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st := objstore.New(objstore.Options{})
	defer st.Close()
	if err := st.Write(ctx, "file://"+dir+"/x.bin", []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if b, err := st.ReadAll(ctx, "file://"+dir+"/x.bin"); err != nil || len(b) != 2 {
		t.Fatalf("%v %v", b, err)
	}
	for _, s := range []string{"s3://b/k", "gs://b/k", "azblob://c/k", "file:///tmp/x"} {
		if !objstore.IsURL(s) {
			t.Errorf("IsURL(%q) false", s)
		}
	}
	if _, err := st.ReadAll(ctx, "gs://bucket/k"); err == nil {
		t.Log("built with the gcs driver")
	} else if !errkind.IsBadInput(err) {
		t.Errorf("gs:// without its driver: %v", err)
	}
	for _, s := range []string{"/tmp/x", "http://x/y", "s3:/b"} {
		if objstore.IsURL(s) {
			t.Errorf("IsURL(%q) true", s)
		}
	}
}
