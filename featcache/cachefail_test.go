package featcache_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/featcache"
)

// TestExtractCacheWriteFails: a cache that cannot be written (once: a full disk stopped
// the extraction) is given up after the first failure; every image is still extracted.
func TestExtractCacheWriteFails(t *testing.T) {
	t.Parallel()
	paths := makeImages(t, 6)
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := featcache.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The cache directory becomes a file: every write under it fails.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	eng := &meanEngine{}
	f := mustExtract(t, eng, paths, featcache.ExtractOptions{Cache: c, BatchSize: 2})
	if f.CacheErr == nil {
		t.Error("CacheErr not set")
	}
	if f.Misses != 6 || len(f.Bad) != 1 {
		t.Errorf("misses %d, bad %d; want 6 and 1", f.Misses, len(f.Bad))
	}
}
