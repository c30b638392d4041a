package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/featcache"
)

// featuresStdout is where the features command writes its summary (tests replace it).
var featuresStdout io.Writer = os.Stdout

func init() {
	register(&command{name: "features", summary: "extract backbone features of a dataset (cached) into a .npy file", run: runFeatures})
}

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
}

func runFeatures(ctx context.Context, args []string) error {
	fs := newFlags("features", "--backbone B --data D [--images DIR] [--engine auto|ort|go] [--batch 32] [--out F.npy] [--cache DIR] [--no-cache] [--strict] [--feature-node N]")
	var df datasetFlags
	df.register(fs)
	bb := fs.String("backbone", "", "backbone: ONNX file or zoo name (required)")
	featureNode := fs.String("feature-node", "", "cut the backbone at this tensor instead of the automatic choice")
	specFile := fs.String("spec", "", "preprocessing JSON overriding the backbone's sidecar/zoo/default")
	engineKind := fs.String("engine", "auto", "engine: auto (ONNX Runtime if installed, else pure Go), ort or go")
	ortLib := fs.String("ort-lib", "", "ONNX Runtime library (default: $ONNXRUNTIME_LIB, then the project's install place)")
	threads := fs.Int("threads", 0, "ONNX Runtime threads (0: all cores)")
	batch := fs.Int("batch", featcache.DefaultBatchSize, "images per engine call")
	workers := fs.Int("workers", 0, "image decoding goroutines (0: number of CPUs)")
	out := fs.String("out", "", "write the features as float32 .npy [N, D] in dataset order, and OUT.names.txt (one image per row)")
	cacheDir := fs.String("cache", "", "feature cache directory (default: the user cache dir/multilabel/features)")
	noCache := fs.Bool("no-cache", false, "neither read nor write the feature cache")
	strict := fs.Bool("strict", false, "fail at the first unusable image instead of leaving it out")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *bb == "" {
		return usageErrorf("--backbone is required")
	}
	if *batch <= 0 {
		return usageErrorf("--batch must be > 0, got %d", *batch)
	}
	kind, err := auto.ParseKind(*engineKind)
	if err != nil {
		return usageErrorf("--engine: %v", err)
	}
	if *out != "" && !strings.HasSuffix(strings.ToLower(*out), ".npy") {
		return usageErrorf("--out %s: want a .npy file name", *out)
	}
	d, err := df.load()
	if err != nil {
		return err
	}

	opt := backbone.Options{FeatureNode: *featureNode}
	if *specFile != "" {
		data, err := os.ReadFile(*specFile)
		if err != nil {
			return badInput(err)
		}
		s, err := backbone.ParseSpec(data)
		if err != nil {
			return badInput(fmt.Errorf("%s: %w", *specFile, err))
		}
		opt.Spec = &s
	}
	path, err := backbone.Resolve(*bb, backbone.ZooOptions{Progress: os.Stderr, Context: ctx})
	if err != nil {
		return err
	}
	b, err := backbone.Load(path, opt)
	if err != nil {
		return badInput(err)
	}
	model, err := b.FeatureModel()
	if err != nil {
		return badInput(err)
	}
	eng, err := auto.Open(model, auto.Options{Kind: kind, ORTLib: *ortLib, Threads: *threads, MaxBatch: *batch})
	if err != nil {
		return err
	}
	defer eng.Close()

	var cache *featcache.Cache
	if !*noCache {
		if cache, err = featcache.Open(*cacheDir); err != nil {
			return err
		}
	}
	paths := make([]string, len(d.Samples))
	for i, s := range d.Samples {
		paths[i] = s.Path
	}
	start := time.Now()
	f, err := featcache.Extract(ctx, eng, b, paths, featcache.ExtractOptions{
		Cache: cache, BatchSize: *batch, Workers: *workers, Strict: *strict, Progress: os.Stderr})
	if err != nil {
		if errors.Is(err, featcache.ErrBadImage) {
			return badInput(err)
		}
		return err
	}
	el := time.Since(start).Seconds()
	sum := featuresSummary{Images: len(paths), Dim: f.Dim, Extracted: f.Misses, Cached: f.Hits, Bad: f.Bad,
		Engine: eng.Name(), Backbone: b.Path, Feature: b.FeatureNode, Seconds: el}
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
			slog.Warn("more unusable images", "count", len(f.Bad)-10)
			break
		}
		slog.Warn("unusable image left out", "image", d.Samples[bad.Index].Image, "reason", bad.Reason)
	}
	data, idx := f.Compact()
	sum.Written = len(idx)
	if *out != "" {
		names := make([]string, len(idx))
		for k, i := range idx {
			names[k] = d.Samples[i].Image
		}
		sum.Out, sum.Names = *out, *out+".names.txt"
		if err := featcache.WriteLines(sum.Names, names); err != nil {
			return badInput(err)
		}
		if err := featcache.WriteNPY(*out, data, len(idx), f.Dim); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(featuresStdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	fmt.Fprintf(featuresStdout, "%d images, %d-dim features (%s at %s) with %s: %d extracted (%.1f images/s), %d from the cache\n",
		sum.Images, sum.Dim, filepath.Base(b.Path), b.FeatureNode, sum.Engine, sum.Extracted, sum.ImagesPerS, sum.Cached)
	if len(f.Bad) > 0 {
		fmt.Fprintf(featuresStdout, "%d unusable image(s) left out (see the warnings above; --strict makes them an error)\n", len(f.Bad))
	}
	if *out != "" {
		fmt.Fprintf(featuresStdout, "wrote %s [%d, %d] and %s\n", sum.Out, sum.Written, sum.Dim, sum.Names)
	}
	return nil
}
