package pipeline

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/sampler"
	"github.com/multilabel/multilabel/train"
)

// Training from a features file (TrainConfig.Features): the features of every image
// were extracted beforehand (multilabel features, possibly sharded and merged), so the
// run reads them instead of running the backbone. The training rows stay in the
// memory-mapped .npy and are streamed in blocks (train.FitRows); the validation and
// test rows, a share of the data, are copied into memory.
//
// Rows are joined to the label source by image name: a sample's Image (the reference
// the label file gives) must be one line of the features' names file. A labelled image
// without a row is skipped and counted (a BadImage) when the extraction says it left
// that many images out as unusable (manifest rows < total) and the label source is not
// read strictly; otherwise it is bad input naming the image, since the features then
// come from another dataset. Rows no sample names are ignored.

// featureRows are the training rows of a features file: row i of the run is row idx[i]
// of the file (idx increasing, so a block of the run is a stretch of the file).
type featureRows struct {
	m   *featcache.Mapped
	idx []int
}

func (f *featureRows) Row(i int, dst []float32) []float32 { return f.m.Row(f.idx[i], dst) }

func (f *featureRows) RawRow(i int) []byte { return f.m.RawRow(f.idx[i]) }

func (f *featureRows) Float16() bool { return f.m.Half }

func (f *featureRows) Release(lo, hi int) {
	if hi > lo {
		f.m.Release(f.idx[lo], f.idx[hi-1]+1)
	}
}

// prepareFromFeatures is prepare's step 3 with TrainConfig.Features: it checks that the
// features were made with r.bb (backbone sha256, cut, preprocessing, pooling), joins
// their rows to the loaded parts by image name and sets r.sets (the training rows in
// r.rows, not in memory).
func (r *run) prepareFromFeatures() error {
	cfg := r.cfg
	t0 := time.Now()
	man, mp, names, err := featcache.OpenOutput(cfg.Features)
	if err != nil {
		return err // names the file; matches errkind.ErrBadInput
	}
	r.mapped = mp
	if man.Shard.Sharded() {
		return errkind.BadInput("--features %s is shard %s only: join the shards first (multilabel features merge OUT.npy SHARD.npy...)", cfg.Features, man.Shard)
	}
	if d := man.Mismatch(featcache.KeyOf(r.bb)); len(d) > 0 {
		return errkind.BadInput("--features %s were not extracted with --backbone %s (cut %s): %s (features vs backbone); extract them again with this backbone, or give the backbone, --feature-node, --pool and --input-size they were made with",
			cfg.Features, cfg.Backbone, r.bb.FeatureNode, strings.Join(d, "; "))
	}
	if r.bb.FeatureDim > 0 && r.bb.FeatureDim != man.Dim {
		return errkind.BadInput("--features %s: %d values a row, --backbone %s gives %d", cfg.Features, man.Dim, cfg.Backbone, r.bb.FeatureDim)
	}
	// The join: image name → row (the first row of a name given twice), by binary
	// search over the names in sorted order: the names file's order when it is sorted
	// (a listing usually is), else a permutation of 4 bytes a row (a map of millions of
	// names would cost several times the names).
	if len(names) > math.MaxInt32 {
		return errkind.BadInput("--features %s: %d rows, at most %d", cfg.Features, len(names), math.MaxInt32)
	}
	var perm []int32
	if !slices.IsSorted(names) {
		perm = make([]int32, len(names))
		for i := range perm {
			perm[i] = int32(i)
		}
		slices.SortStableFunc(perm, func(a, b int32) int { return strings.Compare(names[a], names[b]) })
	}
	rowOf := func(name string) (int32, bool) {
		at := func(k int) string {
			if perm == nil {
				return names[k]
			}
			return names[perm[k]]
		}
		k, found := sort.Find(len(names), func(k int) int { return strings.Compare(name, at(k)) })
		if !found {
			return 0, false
		}
		if perm == nil {
			return int32(k), true
		}
		return perm[k], true
	}
	file, err := os.Open(cfg.Features)
	if err != nil {
		return fmt.Errorf("--features %s: %w", cfg.Features, err)
	}
	defer file.Close()
	leftOut := man.Total - man.Rows // images the extraction could not use
	var missing []string
	for k, p := range r.parts {
		if p == nil {
			continue
		}
		// A joined sample: its row in the file and its index in p.Samples (8 bytes, so
		// that the join of millions of samples costs little next to the samples).
		type item struct{ row, s int32 }
		if len(p.Samples) > math.MaxInt32 {
			return errkind.BadInput("--data %s: %d samples in one part, at most %d with --features", cfg.Data, len(p.Samples), math.MaxInt32)
		}
		items := make([]item, 0, len(p.Samples))
		for j, s := range p.Samples {
			i, ok := rowOf(s.Image)
			if !ok {
				missing = append(missing, s.Image)
				r.bad = append(r.bad, imageio.BadImage{Path: s.Path, Reason: "no row in " + cfg.Features + " (left out by the extraction)"})
				continue
			}
			items = append(items, item{i, int32(j)})
		}
		if k == 0 {
			// Training rows in file order, so that train.FitRows's blocks are stretches of
			// the file; its block shuffling randomises the order.
			slices.SortStableFunc(items, func(a, b item) int { return int(a.row) - int(b.row) })
			r.rows.idx = make([]int, 0, len(items))
		}
		set := &r.sets[k]
		set.y = make([][]int8, 0, len(items))
		if k > 0 {
			// The validation and test paths name images in reports; the training
			// paths are used by no step of a run from features (--unfreeze and
			// --refit are refused), so they are not kept. Copies, so that the
			// parsed paths (one string for all samples) can go.
			set.images = make([]string, 0, len(items))
		}
		for _, it := range items {
			s := &p.Samples[it.s]
			set.y = append(set.y, s.Truth)
			if k > 0 {
				set.images = append(set.images, strings.Clone(s.Path))
			} else {
				r.rows.idx = append(r.rows.idx, int(it.row))
			}
		}
		if k > 0 {
			// Scattered rows are read with positioned reads, not through the map (whose
			// faults would bring their neighbours into memory: the whole file, at a few
			// per cent of its rows).
			set.x = make([]float32, 0, len(items)*man.Dim)
			for _, it := range items {
				if set.x, err = mp.ReadRowAt(file, int(it.row), set.x); err != nil {
					return fmt.Errorf("--features %s: %w", cfg.Features, err)
				}
			}
		}
	}
	names, perm = nil, nil // the join is done: let the names go with the samples
	// The sets hold what the run needs of the samples now (label rows and paths): the
	// parsed samples can go (for millions of images, hundreds of MB before training).
	for k, p := range r.parts {
		if p != nil {
			q := *p
			q.Samples = nil
			r.parts[k] = &q
		}
	}
	// Parsing and joining millions of samples left garbage several times the size of
	// what stays: collect it and give its pages back now, before the training adds its
	// own (the runtime would otherwise keep them resident for a while).
	debug.FreeOSMemory()
	if len(missing) > 0 && (cfg.Strict || len(missing) > leftOut) {
		why := fmt.Sprintf("the extraction left out %d image(s)", leftOut)
		if cfg.Strict {
			why = "--strict"
		}
		return errkind.BadInput("--features %s has no row for %d labelled image(s) (%s), first %q: were the features extracted from this label source (--data %s)?",
			cfg.Features, len(missing), why, missing[0], cfg.Data)
	}
	r.rows.m = mp
	r.dim = man.Dim
	r.bbInfo.FeatureDim = man.Dim
	r.probe = &TrainResult{BadImages: r.bad, Engine: "features file " + cfg.Features, FeatureSeconds: time.Since(t0).Seconds()}
	if len(missing) > 0 {
		r.log.Warn("train: labelled images without a features row skipped (the extraction left them out)", "count", len(missing), "first", missing[0], "features", cfg.Features)
	}
	r.log.Info("train: features from file", "file", cfg.Features, "rows", man.Rows, "dim", man.Dim, "train_rows", len(r.rows.idx))
	return nil
}

// fitRows trains the head on the streamed training rows of a features file.
func (r *run) fitRows(ctx context.Context, cfg TrainConfig, cb train.Callbacks) (*train.Result, error) {
	opt := train.StreamOptions{Block: train.DefaultBlock}
	if k := cfg.Train.Sampler.Kind; k != "" && k != sampler.Uniform {
		// Block shuffling needs the uniform sampler; other samplers read rows in their
		// own order (random reads of the mapped file).
		opt.Block = 0
		r.log.Info("train: sampler "+k+" reads the features file in its own order (no block shuffling)", "file", cfg.Features)
	}
	return train.FitRows(ctx, cfg.Train, &r.rows, len(r.rows.idx), r.dim, r.sets[0].y, r.sets[1].x, r.sets[1].y, opt, cb)
}
