package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/imageio"
)

// Feature-cache augmentation (TrainConfig.FeatureViews): besides the features of each
// training image, the run extracts (and caches, under keys of their own) the features of
// fixed variants of it — imageio.ViewFlip, the image mirrored left to right — and the
// head trains on all of them with the image's labels. The backbone stays frozen and the
// bundle is unchanged (one view at prediction time), so what the views cost is one more
// extraction of the training images per view, once: later runs read them from the cache.

// checkViews reports a configuration the views cannot serve.
func checkViews(cfg TrainConfig) error {
	if len(cfg.FeatureViews) == 0 {
		return nil
	}
	seen := map[imageio.View]bool{}
	for _, v := range cfg.FeatureViews {
		if err := v.Validate(); err != nil {
			return errkind.BadInput("feature views: %v", err)
		}
		if v == imageio.ViewOriginal {
			return errkind.BadInput("feature views: the original images are always used; name only the extra views (flip)")
		}
		if seen[v] {
			return errkind.BadInput("feature views: %q given twice", string(v))
		}
		seen[v] = true
	}
	switch {
	case cfg.Features != "":
		return errkind.BadInput("--feature-views extracts the views from the images: it cannot be used with --features (extract each view with \"multilabel features --view\" instead, or train from the images)")
	case cfg.CalibFolds > 0:
		return errkind.BadInput("--feature-views with --calib-folds: the views of an image would fall in other folds than the image, so the out-of-fold scores would not be out of fold; drop one of them")
	}
	return nil
}

// addViews extracts the views of the usable training images and appends their rows,
// with the images' labels, to the training set (r.split keeps the image counts).
func (r *run) addViews(ctx context.Context, cache *featcache.Cache, spatial bool) error {
	views := r.cfg.FeatureViews
	if len(views) == 0 {
		return nil
	}
	extract := featcache.Extract
	if spatial {
		extract = featcache.ExtractSpatial
	}
	t0 := time.Now()
	set := &r.sets[0]
	paths := append([]string(nil), set.images...)
	labels := append([][]int8(nil), set.y...)
	n := len(paths)
	x := make([]float32, 0, (1+len(views))*n*r.dim)
	x = append(x, set.x...)
	for _, v := range views {
		fs, err := extract(ctx, r.eng, r.bb, paths, featcache.ExtractOptions{Cache: cache, Progress: r.cfg.Progress, View: v})
		if err != nil {
			return fmt.Errorf("features of view %s: %w", v, err)
		}
		if fs.Dim != r.dim {
			return fmt.Errorf("features of view %s: %d values a row, want %d", v, fs.Dim, r.dim)
		}
		for i := range paths {
			if !fs.OK[i] { // read once already: the file changed under the run
				continue
			}
			x = append(x, fs.Row(i)...)
			set.y = append(set.y, labels[i])
			set.images = append(set.images, paths[i])
		}
		r.probe.CacheHits += fs.Hits
		r.probe.CacheMisses += fs.Misses
	}
	set.x = x
	r.probe.FeatureSeconds += time.Since(t0).Seconds()
	r.log.Info("train: feature views added to the training set", "views", fmt.Sprint(views), "images", n, "rows", len(set.y), "seconds", fmt.Sprintf("%.1f", time.Since(t0).Seconds()))
	return nil
}
