package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/imageio"
)

// featuresSummary is the command's result (--json).
type featuresSummary struct {
	Images     int                  `json:"images"`
	Written    int                  `json:"written"`
	Dim        int                  `json:"dim"`
	Extracted  int                  `json:"extracted"`
	Cached     int                  `json:"cached"`
	Bad        []featcache.BadImage `json:"bad_images"`
	Out        string               `json:"out,omitempty"`
	Names      string               `json:"names,omitempty"`
	Engine     string               `json:"engine"`
	Backbone   string               `json:"backbone"`
	Feature    string               `json:"feature_node"`
	Cache      string               `json:"cache,omitempty"`
	Seconds    float64              `json:"seconds"`
	ImagesPerS float64              `json:"extracted_per_s"`
	// Shard is "I/N" for a sharded run; Complete is set when the shard's output was
	// already complete and nothing was done.
	Shard string `json:"shard,omitempty"`
	// Skipped counts the samples the label source reader left out (tar members).
	Skipped  int  `json:"skipped_samples,omitempty"`
	Complete bool `json:"already_complete,omitempty"`
}

func newFeaturesCmd(e *env) *cobra.Command {
	var (
		data, bb, featureNode, specFile, out, cacheDir, pool string
		viewName, inputSize                                  string
		rf                                                   readerFlags
		sf                                                   shardFlags
		ef                                                   engineFlags
		batch, workers                                       int
		noCache, asJSON, spatial                             bool
	)
	c := &cobra.Command{
		Use:   "features --backbone B --data D [--images DIR] [--engine auto|ort|go] [--batch-size 32] [--out F.npy] [--cache-dir DIR] [--no-cache] [--strict] [--feature-node N[,N...]] [--input-size WxH]",
		Short: "extract backbone features of a dataset (cached) into a .npy file",
		Long: "features extracts the backbone features of a dataset into a .npy file (and its names file and manifest).\n\n" +
			"With --shard I/N (or $JOB_COMPLETION_INDEX and --num-shards N) it extracts only shard I of N into OUT.shard-I-of-N.npy; " +
			"\"multilabel features merge OUT.npy SHARD.npy...\" joins the shards into what one process writes.",
		Args: noArgs,
	}
	fs := c.Flags()
	dataFlag(c, &data)
	rf.register(fs, "fail at the first unusable image instead of leaving it out")
	fs.StringVar(&bb, "backbone", "", "backbone: ONNX file or zoo name (required)")
	fs.StringVar(&featureNode, "feature-node", "", "cut the backbone at this tensor instead of the automatic choice (or several, comma-separated, e.g. fire8/concat_1,fire9/concat_1: their [N,C,H,W] maps, of one spatial size, joined along the channels)")
	fs.StringVar(&pool, "pool", backbone.PoolAvg, poolHelp)
	fs.BoolVar(&spatial, "spatial", false, spatialHelp)
	fs.StringVar(&viewName, "view", "", "extract the features of one fixed variant of every image: flip (mirrored left to right), cached under its own key; the default is the images as the preprocessing makes them (train --views trains on both and averages over them at test time)")
	fs.StringVar(&inputSize, "input-size", "", "resize each whole image (no crop) to WxH (or N for NxN) before the backbone, as train --input-size does; the manifest's key records it, so train --features takes these features only with the same --input-size")
	fs.StringVar(&specFile, "spec", "", "preprocessing JSON overriding the backbone's sidecar/zoo/default")
	ef.register(fs, true)
	fs.IntVar(&batch, "batch-size", defaultBatchSize, "images per engine call")
	aliasFlag(fs, "batch", "batch-size")
	fs.IntVar(&workers, "workers", 0, "image decoding goroutines (0: number of CPUs)")
	fs.StringVar(&out, "out", "", "write the features as float32 .npy [N, D] in dataset order, OUT.names.txt (one image per row) and OUT.manifest.json (written last; what made them); a local path or an s3:// gs:// azblob:// file:// URL")
	fs.StringVar(&cacheDir, "cache-dir", "", "feature cache directory (default: the user cache dir/multilabel/features)")
	aliasFlag(fs, "cache", "cache-dir")
	fs.BoolVar(&noCache, "no-cache", false, "neither read nor write the feature cache")
	fs.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	sf.register(fs)
	c.AddCommand(newFeaturesMergeCmd(e))
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx := c.Context()
		if bb == "" {
			return usageErrorf("--backbone is required")
		}
		if batch <= 0 {
			return usageErrorf("--batch-size must be > 0, got %d", batch)
		}
		kind, err := ef.parse()
		if err != nil {
			return err
		}
		if out != "" && !strings.HasSuffix(strings.ToLower(strings.SplitN(out, "?", 2)[0]), ".npy") {
			return usageErrorf("--out %s: want a .npy file name", out)
		}
		spec, err := sf.resolve(e)
		if err != nil {
			return err
		}
		if spec.Sharded() && out == "" {
			return usageErrorf("--shard %s needs --out (each shard writes its own file)", spec)
		}
		rs, err := newRemote(data, rf.images, out, bb)
		if err != nil {
			return err
		}
		defer rs.close()
		if rs != nil {
			rs.st.Shard = spec // stage this shard's images only
		}
		d, err := rs.load(ctx, &rf, data)
		if err != nil {
			return err
		}
		total := len(d.Samples)
		sel := selectShard(d, spec)
		warnSkipped(e, d)
		out = shardOut(spec, out)

		if err := checkPool(pool, ""); err != nil {
			return err
		}
		view := imageio.View(viewName)
		if err := view.Validate(); err != nil {
			return usageErrorf("--view: %v", err)
		}
		if spatial && c.Flags().Changed("pool") {
			return usageErrorf("--spatial keeps the map before any pooling: drop --pool")
		}
		inW, inH, err := parseInputSize(inputSize)
		if err != nil {
			return err
		}
		opt := backbone.Options{FeatureNode: featureNode, Pool: pool, InputWidth: inW, InputHeight: inH}
		if specFile != "" {
			raw, err := os.ReadFile(specFile)
			if err != nil {
				return badInput(err)
			}
			s, err := backbone.ParseSpec(raw)
			if err != nil {
				return badInput(fmt.Errorf("%s: %w", specFile, err))
			}
			opt.Spec = &s
		}
		if err := rs.fetchBackbone(ctx, &bb); err != nil {
			return err
		}
		path, err := backbone.Resolve(bb, backbone.ZooOptions{Progress: e.stderr, Context: ctx})
		if err != nil {
			return err
		}
		b, err := backbone.Load(path, opt)
		if err != nil {
			return badInput(err)
		}
		baseKeyOf, extract := featcache.KeyOf, featcache.Extract
		if spatial {
			baseKeyOf, extract = featcache.SpatialKeyOf, featcache.ExtractSpatial
		}
		keyOf := func(b *backbone.Backbone) featcache.ModelKey {
			k := baseKeyOf(b)
			k.View = string(view)
			return k
		}
		if spec.Sharded() {
			if done, err := rs.complete(ctx, out, keyOf(b), spec, total); err != nil {
				return err
			} else if done {
				return printShardComplete(e, asJSON, out, spec)
			}
		}
		graph, err := b.FeatureModel()
		if spatial {
			graph, err = b.SpatialModel()
		}
		if err != nil {
			return badInput(err)
		}
		eng, err := auto.Open(graph, auto.Options{Kind: kind, ORTLib: ef.ortLib, Threads: ef.threads, MaxBatch: batch})
		if err != nil {
			return err
		}
		defer eng.Close()

		var cache *featcache.Cache
		if !noCache {
			if cache, err = featcache.Open(cacheDir); err != nil {
				return err
			}
		}
		paths := make([]string, len(sel))
		for k, i := range sel {
			paths[k] = d.Samples[i].Path
		}
		start := time.Now()
		f, err := extract(ctx, eng, b, paths, featcache.ExtractOptions{
			Cache: cache, BatchSize: batch, Workers: workers, Strict: rf.strict, Progress: e.stderr, View: view})
		if err != nil {
			if errors.Is(err, featcache.ErrBadImage) {
				return badInput(err)
			}
			return err
		}
		el := time.Since(start).Seconds()
		sum := featuresSummary{Images: len(paths), Dim: f.Dim, Extracted: f.Misses, Cached: f.Hits, Bad: f.Bad,
			Engine: eng.Name(), Backbone: b.Path, Feature: b.FeatureNode, Seconds: el, Shard: spec.String(), Skipped: len(d.Skipped)}
		if sum.Bad == nil {
			sum.Bad = []featcache.BadImage{}
		}
		if el > 0 {
			sum.ImagesPerS = float64(f.Misses) / el
		}
		if cache != nil {
			sum.Cache = cache.Dir()
		}
		for i, bad := range f.Bad {
			if i == 10 {
				e.log.Warn("more unusable images", "count", len(f.Bad)-10)
				break
			}
			e.log.Warn("unusable image left out", "image", d.Samples[sel[bad.Index]].Image, "reason", bad.Reason)
		}
		feats, idx := f.Compact()
		sum.Written = len(idx)
		if out != "" {
			o := featcache.Output{Path: rs.localOut(out), Key: keyOf(b), Shard: spec, Total: total, Selected: len(sel),
				Index: make([]int, len(idx)), Names: make([]string, len(idx)), Data: feats, Dim: f.Dim}
			for k, i := range idx {
				o.Index[k] = sel[i]
				o.Names[k] = d.Samples[sel[i]].Image
			}
			sum.Out, sum.Names = out, featcache.NamesPath(out)
			if _, err := featcache.WriteOutput(o); err != nil {
				return err
			}
			if err := rs.publish(ctx, o.Path, out); err != nil {
				return err
			}
		}
		if asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(sum)
		}
		fmt.Fprintf(e.stdout, "%d images, %d-dim features (%s at %s) with %s: %d extracted (%.1f images/s), %d from the cache\n",
			sum.Images, sum.Dim, filepath.Base(b.Path), b.FeatureNode, sum.Engine, sum.Extracted, sum.ImagesPerS, sum.Cached)
		if len(f.Bad) > 0 {
			fmt.Fprintf(e.stdout, "%d unusable image(s) left out (see the warnings above; --strict makes them an error)\n", len(f.Bad))
		}
		if out != "" {
			fmt.Fprintf(e.stdout, "wrote %s [%d, %d] and %s\n", sum.Out, sum.Written, sum.Dim, sum.Names)
		}
		return nil
	}
	return c
}
