package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/audit"
	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/internal/fsutil"
	"github.com/multilabel/multilabel/report"
)

func newDatasetAuditCmd(e *env) *cobra.Command {
	var (
		data, bb, out, reportDir, cacheDir string
		rf                                 readerFlags
		ef                                 engineFlags
		folds, top, gallery                int
		seed                               uint64
		asJSON, noCache                    bool
	)
	c := &cobra.Command{
		Use:   "audit --data D --backbone B [--images DIR] [--folds 5] [--out audit.csv] [--report DIR] [--json]",
		Short: "rank likely missing and likely wrong labels by out-of-fold scores of k-fold heads on cached features",
		Args:  noArgs,
	}
	fs := c.Flags()
	dataFlag(c, &data)
	rf.register(fs, "fail at the first unusable image instead of leaving it out")
	ef.register(fs, true)
	fs.StringVar(&bb, "backbone", "", "backbone: ONNX file or zoo name (required)")
	fs.IntVar(&folds, "folds", 5, "cross-fitting folds")
	fs.Uint64Var(&seed, "seed", 1, "seed of the folds and the heads")
	fs.StringVar(&out, "out", "", "write the suspects as CSV (image,label,kind,score,rank)")
	fs.IntVar(&top, "top", 0, "keep this many suspects of each kind in --out and the text output (0: all in --out, 10 printed)")
	fs.StringVar(&reportDir, "report", "", "write an HTML page (out-of-fold evaluation and thumbnails of the top suspects) into this directory")
	fs.IntVar(&gallery, "gallery", 30, "suspects of each kind shown in the --report page")
	fs.StringVar(&cacheDir, "cache-dir", "", "feature cache directory (default: the user cache dir/multilabel/features)")
	fs.BoolVar(&noCache, "no-cache", false, "neither read nor write the feature cache")
	fs.BoolVar(&asJSON, "json", false, "print both ranked lists as JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx := c.Context()
		if bb == "" {
			return usageErrorf("--backbone is required")
		}
		if folds < 2 {
			return usageErrorf("--folds must be at least 2, got %d", folds)
		}
		kind, err := ef.parse()
		if err != nil {
			return err
		}
		d, err := rf.load(c.Context(), data)
		if err != nil {
			return err
		}
		path, err := backbone.Resolve(bb, backbone.ZooOptions{Progress: e.stderr, Context: ctx})
		if err != nil {
			return err
		}
		b, err := backbone.Load(path, backbone.Options{})
		if err != nil {
			return badInput(err)
		}
		graph, err := b.FeatureModel()
		if err != nil {
			return badInput(err)
		}
		eng, err := auto.Open(graph, auto.Options{Kind: kind, ORTLib: ef.ortLib, Threads: ef.threads, MaxBatch: defaultBatchSize})
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
		paths := make([]string, len(d.Samples))
		for i, s := range d.Samples {
			paths[i] = s.Path
		}
		f, err := featcache.Extract(ctx, eng, b, paths, featcache.ExtractOptions{Cache: cache, Strict: rf.strict, Progress: e.stderr})
		if err != nil {
			if errors.Is(err, featcache.ErrBadImage) {
				return badInput(err)
			}
			return err
		}
		for _, bad := range f.Bad {
			e.log.Warn("unusable image left out", "image", d.Samples[bad.Index].Image, "reason", bad.Reason)
		}
		x, idx := f.Compact()
		names := make([]string, len(idx))
		keptPaths := make([]string, len(idx))
		truth := make([][]int8, len(idx))
		for k, i := range idx {
			names[k], keptPaths[k], truth[k] = d.Samples[i].Image, d.Samples[i].Path, d.Samples[i].Truth
		}
		res, err := audit.Run(ctx, audit.Config{Folds: folds, Seed: seed}, x, truth, f.Dim, names, d.Labels)
		if err != nil {
			return badInput(err)
		}
		if out != "" {
			var buf bytes.Buffer
			if err := audit.WriteCSV(&buf, res, top); err != nil {
				return err
			}
			if err := fsutil.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				return err
			}
		}
		if reportDir != "" {
			in := report.Input{Title: "Label audit", Labels: d.Labels, Scores: res.Scores, Truth: truth,
				Meta: [][2]string{{"data", d.Source}, {"backbone", filepath.Base(b.Path)},
					{"folds", fmt.Sprint(folds)}, {"seed", fmt.Sprint(seed)}},
				Sections: audit.Sections(res, keptPaths, gallery)}
			if _, err := report.Write(reportDir, in); err != nil {
				return err
			}
		}
		if asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		}
		n := top
		if n <= 0 {
			n = 10
		}
		fmt.Fprintf(e.stdout, "%d images, %d labels, %d folds: out-of-fold mAP %.4f (%.1fs)\n", len(names), len(d.Labels), folds, res.OOFMAP, res.Seconds)
		for _, part := range []struct {
			title string
			list  []audit.Entry
		}{{"likely missing (absent, scored high)", res.Missing}, {"likely wrong (present, scored low)", res.Wrong}} {
			fmt.Fprintf(e.stdout, "\n%s:\n", part.title)
			for k, en := range part.list {
				if k == n {
					break
				}
				fmt.Fprintf(e.stdout, "%4d  %-30s %-16s %.3f\n", en.Rank, en.Image, en.Label, en.Score)
			}
		}
		return nil
	}
	return c
}
