package featcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sync"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/half"
	"github.com/multilabel/multilabel/internal/progress"
)

// ErrBadImage is wrapped by the error of a Strict extraction that met an unusable image.
// It matches errkind.ErrBadInput.
var ErrBadImage = errkind.Sentinel("unusable image", errkind.ErrBadInput)

// DefaultBatchSize is the engine batch size when ExtractOptions.BatchSize is 0
// (imageio.DefaultBatchSize).
const DefaultBatchSize = imageio.DefaultBatchSize

// ExtractOptions configure Extract.
type ExtractOptions struct {
	// Cache stores and reuses features; nil extracts everything and stores nothing.
	Cache *Cache
	// BatchSize is the number of images per engine call; 0 means DefaultBatchSize.
	BatchSize int
	// Workers is the number of image decoding (and hashing) goroutines; 0 means GOMAXPROCS.
	Workers int
	// Strict fails on the first unusable image instead of skipping it.
	Strict bool
	// Decode bounds image decoding.
	Decode imageio.DecodeOptions
	// Progress receives a progress bar (images/s, ETA) for the extraction; nil is quiet.
	Progress io.Writer
	// View extracts the features of one fixed variant of every image (imageio.ViewFlip:
	// mirrored left to right), cached under the key with View set; the zero value is the
	// images as the preprocessing makes them.
	View imageio.View
}

// BadImage is an image that could not be used (Index is its position in the paths).
//
// Deprecated: use imageio.BadImage; this alias stays for one release.
type BadImage = imageio.BadImage

// Features are the pooled features of a list of images.
type Features struct {
	// Dim is the length of one feature vector (C·H·W for spatial maps).
	Dim int
	// Shape is [C, H, W] for the spatial maps of ExtractSpatial (each row is the map in
	// row-major order); nil for pooled vectors.
	Shape []int
	// Data holds len(paths)×Dim values in paths order; a bad image's row is zero.
	Data []float32
	// OK[i] reports whether image i was usable.
	OK []bool
	// Bad lists the unusable images in paths order.
	Bad []BadImage
	// Hits counts images served from the cache, Misses images run through the engine
	// (an image whose content appears twice is run once).
	Hits, Misses int
	// CacheErr is the cache write error after which features stopped being stored
	// (logged once; the extraction goes on without the cache); nil when none.
	CacheErr error
}

// Row returns the feature vector of image i.
func (f *Features) Row(i int) []float32 { return f.Data[i*f.Dim : (i+1)*f.Dim] }

// Compact returns the rows of the usable images and their indices in the original list.
func (f *Features) Compact() (data []float32, idx []int) {
	for i, ok := range f.OK {
		if ok {
			data = append(data, f.Row(i)...)
			idx = append(idx, i)
		}
	}
	return data, idx
}

// KeyOf returns the cache key of a backbone's features.
func KeyOf(b *backbone.Backbone) ModelKey {
	k := ModelKey{BackboneSHA256: b.SHA256, FeatureNode: b.FeatureNode, Spec: b.Spec}
	if b.Pooled && b.Pool != backbone.PoolAvg {
		k.Pool = b.Pool
	}
	return k
}

// SpatialKeyOf returns the cache key of a backbone's spatial maps (the map at the cut,
// before any pooling): KeyOf without the pooling, marked Spatial, so pooled vectors and
// maps of the same images never share an entry.
func SpatialKeyOf(b *backbone.Backbone) ModelKey {
	k := KeyOf(b)
	k.Pool, k.Spatial = "", true
	return k
}

// ExtractSpatial is Extract for the map at the cut: eng must run b.SpatialModel(), and
// each row of the result holds one image's C×H×W map (Features.Shape). The cache keeps
// the maps as float16 under SpatialKeyOf(b), with the integrity checks of pooled
// entries: 2 bytes a value on disk (MIML: 1,500 × 512 × 13 × 13 × 2 B ≈ 260 MB), 4 in
// the returned Features. A cut without spatial dimensions is an error naming the cut.
func ExtractSpatial(ctx context.Context, eng engine.Engine, b *backbone.Backbone, paths []string, opt ExtractOptions) (*Features, error) {
	if b == nil {
		return nil, errors.New("featcache: nil backbone")
	}
	c, h, w, err := b.SpatialShape()
	if err != nil {
		return nil, fmt.Errorf("featcache: %w", err)
	}
	dim := 1
	for _, d := range eng.OutputShape() {
		dim *= int(d)
	}
	if dim != c*h*w {
		return nil, fmt.Errorf("featcache: engine output has %d values per image, want the %d×%d×%d map of %q (run b.SpatialModel())", dim, c, h, w, b.FeatureNode)
	}
	f, err := extract(ctx, eng, SpatialKeyOf(b), paths, opt)
	if err != nil {
		return nil, err
	}
	f.Shape = []int{c, h, w}
	return f, nil
}

// Extract computes the features of the images at paths with eng, which must run the
// feature model of b (b.FeatureModel()). Images already in opt.Cache are not decoded; the
// others are decoded by the parallel loader, run in batches and stored in the cache as
// soon as each batch is done, so an interrupted run loses at most one batch. Unusable
// images are reported in Features.Bad (or fail the call with opt.Strict).
func Extract(ctx context.Context, eng engine.Engine, b *backbone.Backbone, paths []string, opt ExtractOptions) (*Features, error) {
	if b == nil {
		return nil, errors.New("featcache: nil backbone")
	}
	return extract(ctx, eng, KeyOf(b), paths, opt)
}

func extract(ctx context.Context, eng engine.Engine, key ModelKey, paths []string, opt ExtractOptions) (*Features, error) {
	if err := key.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("featcache: %w", err)
	}
	if err := opt.View.Validate(); err != nil {
		return nil, fmt.Errorf("featcache: %w", err)
	}
	key.View = string(opt.View)
	if in, want := eng.InputShape(), key.Spec.Shape(); !slices.Equal(in, want) {
		return nil, fmt.Errorf("featcache: engine input shape %v does not match the preprocessing shape %v", in, want)
	}
	dim := 1
	for _, d := range eng.OutputShape() {
		dim *= int(d)
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = DefaultBatchSize
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	n := len(paths)
	f := &Features{Dim: dim, Data: make([]float32, n*dim), OK: make([]bool, n)}
	reasons := make([]string, n)

	// Phase 1: hash every file and look it up.
	hashes := make([]string, n)
	if err := hashAll(ctx, paths, hashes, reasons, opt.Workers); err != nil {
		return nil, err
	}
	var missPaths []string
	var missHashes []string
	missRows := map[string][]int{} // content hash -> rows waiting for it
	for i, h := range hashes {
		if h == "" {
			continue
		}
		if opt.Cache != nil {
			if v, ok := opt.Cache.Get(key, h); ok && len(v) == dim {
				copy(f.Row(i), v)
				f.OK[i] = true
				f.Hits++
				continue
			}
		}
		if _, seen := missRows[h]; !seen {
			missPaths = append(missPaths, paths[i])
			missHashes = append(missHashes, h)
		}
		missRows[h] = append(missRows[h], i)
	}

	if opt.Strict {
		for i, r := range reasons {
			if r != "" {
				return nil, fmt.Errorf("featcache: %w: %s: %s", ErrBadImage, paths[i], r)
			}
		}
	}
	// Phase 2: decode, run and store the misses.
	if len(missPaths) > 0 {
		if err := runMisses(ctx, eng, key, opt, f, missPaths, missHashes, missRows, reasons); err != nil {
			return nil, err
		}
	}
	for i, r := range reasons {
		if r != "" {
			f.Bad = append(f.Bad, BadImage{Index: i, Path: paths[i], Reason: r})
		}
	}
	if opt.Strict && len(f.Bad) > 0 {
		return nil, fmt.Errorf("featcache: %w: %d unusable image(s), first %s: %s", ErrBadImage, len(f.Bad), f.Bad[0].Path, f.Bad[0].Reason)
	}
	return f, nil
}

// hashAll fills hashes[i] with the content hash of paths[i], or reasons[i] on failure.
func hashAll(ctx context.Context, paths, hashes, reasons []string, workers int) error {
	var wg sync.WaitGroup
	next := make(chan int)
	var mu sync.Mutex
	var storeErr error // storage failing after its retries: not a bad image
	for range min(workers, max(1, len(paths))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				h, err := HashFile(paths[i])
				if errkind.IsUnavailable(err) {
					mu.Lock()
					if storeErr == nil {
						storeErr = err
					}
					mu.Unlock()
					continue
				}
				if err != nil {
					reasons[i] = err.Error()
					continue
				}
				hashes[i] = h
			}
		}()
	}
	var err error
	for i := range paths {
		if err = ctx.Err(); err != nil {
			break
		}
		mu.Lock()
		failed := storeErr != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if storeErr != nil {
		return fmt.Errorf("featcache: reading images: %w", storeErr)
	}
	return err
}

func runMisses(ctx context.Context, eng engine.Engine, key ModelKey, opt ExtractOptions, f *Features,
	missPaths, missHashes []string, missRows map[string][]int, reasons []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bar := (*progress.Bar)(nil)
	if opt.Progress != nil {
		bar = progress.New(opt.Progress, "features", int64(len(missPaths)), "images")
		defer bar.Finish()
	}
	loader := imageio.NewLoader(ctx, missPaths, key.Spec, imageio.LoaderOptions{
		Workers: opt.Workers, BatchSize: opt.BatchSize, Decode: opt.Decode, View: opt.View,
	})
	defer loader.Close()
	tl := key.Spec.TensorLen()
	var input []float32
	var items []int
	for {
		batch, err := loader.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("featcache: loading images: %w", err)
		}
		// Compact the usable items; a batch without bad items is run in place (no copy)
		// and released after the run, while the loader fills the next ones.
		input = input[:0]
		items = items[:0]
		failed := batch.Failed()
		for j := range batch.N {
			k := batch.Start + j
			if batch.Errs != nil && batch.Errs[j] != nil {
				if errkind.IsUnavailable(batch.Errs[j]) {
					err := batch.Errs[j]
					loader.Release(batch)
					return fmt.Errorf("featcache: loading images: %w", err)
				}
				for _, row := range missRows[missHashes[k]] {
					reasons[row] = batch.Errs[j].Error()
				}
				if opt.Strict {
					err := batch.Errs[j]
					loader.Release(batch)
					return fmt.Errorf("featcache: %w: %w", ErrBadImage, err)
				}
				continue
			}
			items = append(items, k)
			if failed > 0 {
				input = append(input, batch.Data[j*tl:(j+1)*tl]...)
			}
		}
		in := input
		if failed == 0 {
			in = batch.Data[:batch.N*tl]
		}
		n := batch.N
		if len(items) > 0 {
			out, err := eng.Run(ctx, in, len(items))
			loader.Release(batch)
			if err != nil {
				return fmt.Errorf("featcache: running %s: %w", eng.Name(), err)
			}
			if len(out) != len(items)*f.Dim {
				return fmt.Errorf("featcache: engine returned %d values for %d images of dim %d", len(out), len(items), f.Dim)
			}
			if key.Spatial {
				// Maps are kept as float16: round them now, so a first run gives what
				// every later (cached) run gives.
				for i, v := range out {
					out[i] = half.ToFloat32(half.FromFloat32(v))
				}
			}
			for q, k := range items {
				v := out[q*f.Dim : (q+1)*f.Dim]
				for _, row := range missRows[missHashes[k]] {
					copy(f.Row(row), v)
					f.OK[row] = true
				}
				f.Misses++
				if opt.Cache != nil {
					if err := opt.Cache.Put(key, missHashes[k], v); err != nil {
						// A full or read-only cache must not stop the extraction: say it
						// once and carry on without storing.
						slog.Warn("featcache: cannot write the feature cache; continuing without it", "dir", opt.Cache.Dir(), "err", err)
						f.CacheErr = err
						opt.Cache = nil
					}
				}
			}
		} else {
			loader.Release(batch)
		}
		bar.Add(n)
	}
}
