package featcache_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/multilabel/multilabel/featcache"
)

func ExampleExtract() {
	dir, _ := os.MkdirTemp("", "featcache-example")
	defer os.RemoveAll(dir)
	cache, err := featcache.Open(filepath.Join(dir, "cache"))
	if err != nil {
		panic(err)
	}
	// In a program: b, _ := backbone.Load(...); model, _ := b.FeatureModel();
	// eng, _ := auto.Open(model, auto.Options{}). Here a stand-in engine and backbone.
	paths := []string{filepath.Join(dir, "missing.jpg")}
	f, err := featcache.Extract(context.Background(), &meanEngine{}, fakeBackbone(), paths,
		featcache.ExtractOptions{Cache: cache})
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Dim, len(f.Bad), f.Misses)
	// Output: 4 1 0
}

func ExampleWriteNPY() {
	dir, _ := os.MkdirTemp("", "npy-example")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "features.npy")
	if err := featcache.WriteNPY(p, []float32{1, 2, 3, 4, 5, 6}, 2, 3); err != nil {
		panic(err)
	}
	data, shape, _ := featcache.ReadNPY(p)
	fmt.Println(shape, data)
	// Output: [2 3] [1 2 3 4 5 6]
}
