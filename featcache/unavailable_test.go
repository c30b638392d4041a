package featcache_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/imageio"
)

// flaky is an archive in object storage that fails after its first read.
type flaky struct {
	data  []byte
	reads int
}

func (f *flaky) ReadAt(p []byte, off int64) (int, error) {
	f.reads++
	if f.reads > 1 {
		return 0, errkind.WrapUnavailable(errors.New("objstore: reading s3://b/x.tar: after 4 attempts: 503"))
	}
	return copy(p, f.data[off:]), nil
}

// TestExtractStopsOnUnavailableStorage: an image that cannot be read because object
// storage keeps failing stops the extraction with that error; it is not skipped and
// counted as an unusable image.
func TestExtractStopsOnUnavailableStorage(t *testing.T) {
	t.Parallel()
	img, err := os.ReadFile(makeImages(t, 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	const archive = "s3://b/unavailable-test.tar"
	defer imageio.RegisterArchive(archive, &flaky{data: img})()
	paths := []string{imageio.MemberPath(archive, 0, int64(len(img)), "a.png"), imageio.MemberPath(archive, 0, int64(len(img)), "b.png")}
	_, err = featcache.Extract(context.Background(), &meanEngine{}, fakeBackbone(), paths, featcache.ExtractOptions{Workers: 1})
	if !errkind.IsUnavailable(err) || !strings.Contains(err.Error(), "x.tar") {
		t.Fatalf("Extract: %v, want the storage error", err)
	}
}
