package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/imageio"
)

// datasetStdout is where the dataset commands write their results (tests replace it).
var datasetStdout io.Writer = os.Stdout

func init() {
	register(&command{name: "dataset inspect", summary: "label statistics and bad-image report of a dataset", run: runDatasetInspect})
	register(&command{name: "dataset split", summary: "split a dataset by iterative stratification into CSV files", run: runDatasetSplit})
}

// datasetFlags are the flags that say how to read a dataset.
type datasetFlags struct {
	data, images, format, listSep, labels, vocSet string
	keepUnannotated                               bool
}

func (f *datasetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "", "label source: CSV (list or one-hot layout), COCO instances JSON or Pascal VOC root (required)")
	fs.StringVar(&f.images, "images", "", "directory image references are resolved against (default: per format, beside the label file)")
	fs.StringVar(&f.format, "format", "", "force the reader: csv, csv-list, csv-onehot, coco or voc (default: detect)")
	fs.StringVar(&f.listSep, "list-sep", "", `separator inside a CSV list column: ",", "|", ";" or "space" (default: detect)`)
	fs.StringVar(&f.labels, "labels", "", "comma-separated vocabulary: fixes label order, other labels are an error")
	fs.StringVar(&f.vocSet, "voc-set", "", "VOC image set (ImageSets/Main/<set>.txt; default trainval, else all annotations)")
	fs.BoolVar(&f.keepUnannotated, "keep-unannotated", false, "keep images a COCO file gives no annotation as all-negative samples")
}

func (f *datasetFlags) load() (*dataset.Dataset, error) {
	if f.data == "" {
		return nil, usageErrorf("--data is required")
	}
	opt := dataset.Options{ImagesDir: f.images, Format: f.format, ListSep: f.listSep,
		KeepUnannotated: f.keepUnannotated, VOCImageSet: f.vocSet}
	if f.labels != "" {
		for _, l := range strings.Split(f.labels, ",") {
			opt.Labels = append(opt.Labels, strings.TrimSpace(l))
		}
	}
	d, err := dataset.Load(f.data, opt)
	if err != nil {
		if dataset.IsBadInput(err) {
			return nil, badInput(err)
		}
		return nil, err
	}
	return d, nil
}

func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func runDatasetInspect(ctx context.Context, args []string) error {
	fs := newFlags("dataset inspect", "--data labels.csv [--images dir/] [--json] [--strict]")
	var df datasetFlags
	df.register(fs)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	strict := fs.Bool("strict", false, "fail at the first bad image instead of skipping and counting it")
	noImages := fs.Bool("no-images", false, "label statistics only: do not open the images")
	workers := fs.Int("workers", 0, "parallel image checks (default: number of CPUs, at least 2)")
	maxPixels := fs.Int64("max-pixels", imageio.DefaultMaxPixels, "refuse images whose header declares more pixels")
	top := fs.Int("top-pairs", 10, "number of co-occurring label pairs to report")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	d, err := df.load()
	if err != nil {
		return err
	}
	opt := dataset.InspectOptions{SkipImages: *noImages, TopPairs: *top, CheckOptions: dataset.CheckOptions{
		Workers: *workers, Strict: *strict, Decode: imageio.DecodeOptions{MaxPixels: *maxPixels}, Progress: os.Stderr}}
	r, err := dataset.Inspect(ctx, d, opt)
	if err != nil {
		if dataset.IsBadInput(err) {
			return badInput(fmt.Errorf("%w (--strict: without it bad images are skipped and counted)", err))
		}
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(datasetStdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.WriteText(datasetStdout)
}

// splitPart is one written part, as printed by dataset split.
type splitPart struct {
	Name        string         `json:"name"`
	Path        string         `json:"path"`
	NImages     int            `json:"n_images"`
	LabelCounts map[string]int `json:"label_counts"`
}

func runDatasetSplit(ctx context.Context, args []string) error {
	fs := newFlags("dataset split", "--data labels.csv --out dir/ [--ratios 0.8,0.1,0.1] [--names train,val,test] [--seed 1]")
	var df datasetFlags
	df.register(fs)
	out := fs.String("out", "", "output directory for <name>.csv files (required)")
	ratiosFlag := fs.String("ratios", "0.8,0.1,0.1", "comma-separated part sizes (normalised to sum 1)")
	namesFlag := fs.String("names", "", "comma-separated part names (default: train,val,test for three parts, train,test for two, else part1,part2,...)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed and data give the same split")
	check := fs.Bool("check-images", false, "open the images first and leave bad ones out (counted and named)")
	strict := fs.Bool("strict", false, "with --check-images, fail at the first bad image")
	asJSON := fs.Bool("json", false, "print the written parts as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf("--out is required")
	}
	var ratios []float64
	for _, s := range strings.Split(*ratiosFlag, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || !(r > 0) {
			return usageErrorf("--ratios: %q is not a positive number", s)
		}
		ratios = append(ratios, r)
	}
	names := defaultPartNames(len(ratios))
	if *namesFlag != "" {
		names = strings.Split(*namesFlag, ",")
	}
	if len(names) != len(ratios) {
		return usageErrorf("--names has %d names for %d ratios", len(names), len(ratios))
	}
	seen := map[string]bool{}
	for i, n := range names {
		names[i] = strings.TrimSpace(n)
		if names[i] == "" || strings.ContainsAny(names[i], `/\`) || seen[names[i]] {
			return usageErrorf("--names: %q is empty, repeated or not a plain file name", n)
		}
		seen[names[i]] = true
	}
	d, err := df.load()
	if err != nil {
		return err
	}
	if *check {
		clean, bad, err := dataset.DropBadImages(ctx, d, dataset.CheckOptions{Strict: *strict, Progress: os.Stderr})
		if err != nil {
			if dataset.IsBadInput(err) {
				return badInput(err)
			}
			return err
		}
		for _, b := range bad {
			fmt.Fprintf(os.Stderr, "skipped %s: %s\n", b.Path, b.Reason)
		}
		if len(bad) > 0 {
			fmt.Fprintf(os.Stderr, "%d bad images left out\n", len(bad))
		}
		d = clean
	}
	parts, err := dataset.IterativeStratify(d, ratios, *seed)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var written []splitPart
	for j, idx := range parts {
		sub := d.Subset(idx)
		p := filepath.Join(*out, names[j]+".csv")
		if err := dataset.WriteCSV(p, sub); err != nil {
			return err
		}
		sp := splitPart{Name: names[j], Path: p, NImages: len(idx), LabelCounts: map[string]int{}}
		for _, s := range sub.Samples {
			for l, t := range s.Truth {
				if t == dataset.Positive {
					sp.LabelCounts[d.Labels[l]]++
				}
			}
		}
		written = append(written, sp)
	}
	if *asJSON {
		enc := json.NewEncoder(datasetStdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"source": d.Source, "seed": *seed, "ratios": ratios, "parts": written,
			"label_distribution_deviation": dataset.LabelDistribution(d, parts)})
	}
	for _, sp := range written {
		fmt.Fprintf(datasetStdout, "%-6s %6d images -> %s\n", sp.Name, sp.NImages, sp.Path)
	}
	fmt.Fprintf(datasetStdout, "label proportion deviation: %.5f (0 = every part keeps the label shares of the whole)\n",
		dataset.LabelDistribution(d, parts))
	return nil
}

func defaultPartNames(k int) []string {
	switch k {
	case 3:
		return []string{"train", "val", "test"}
	case 2:
		return []string{"train", "test"}
	}
	names := make([]string, k)
	for i := range names {
		names[i] = "part" + strconv.Itoa(i+1)
	}
	return names
}
