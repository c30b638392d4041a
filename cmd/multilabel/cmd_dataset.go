package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/imageio"
)

func newDatasetCmd(e *env) *cobra.Command {
	return groupCmd("dataset", "inspect and split label sources", newDatasetInspectCmd(e), newDatasetSplitCmd(e), newDatasetPackCmd(e), newDatasetAuditCmd(e))
}

// dataFlag registers --data, the label source of the dataset commands.
func dataFlag(c *cobra.Command, p *string) {
	c.Flags().StringVar(p, "data", "", "label source: CSV (list or one-hot layout), COCO instances JSON, Pascal VOC root or WebDataset tar shards ('shards/train-{000000..000009}.tar') (required)")
}

func newDatasetInspectCmd(e *env) *cobra.Command {
	var (
		data      string
		rf        readerFlags
		asJSON    bool
		noImages  bool
		workers   int
		maxPixels int64
		top       int
	)
	c := &cobra.Command{
		Use:   "inspect --data labels.csv [--images dir/] [--json] [--strict]",
		Short: "label statistics and bad-image report of a dataset",
		Args:  noArgs,
	}
	fs := c.Flags()
	dataFlag(c, &data)
	rf.register(fs, "fail at the first bad image instead of skipping and counting it")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.BoolVar(&noImages, "no-images", false, "label statistics only: do not open the images")
	fs.IntVar(&workers, "workers", 0, "parallel image checks (default: number of CPUs, at least 2)")
	fs.Int64Var(&maxPixels, "max-pixels", imageio.DefaultMaxPixels, "refuse images whose header declares more pixels")
	fs.IntVar(&top, "top-pairs", 10, "number of co-occurring label pairs to report")
	c.RunE = func(c *cobra.Command, args []string) error {
		d, err := rf.load(c.Context(), data)
		if err != nil {
			return err
		}
		opt := dataset.InspectOptions{SkipImages: noImages, TopPairs: top, CheckOptions: dataset.CheckOptions{
			Workers: workers, Strict: rf.strict, Decode: imageio.DecodeOptions{MaxPixels: maxPixels}, Progress: e.stderr}}
		r, err := dataset.Inspect(c.Context(), d, opt)
		if err != nil {
			if dataset.IsBadInput(err) {
				return badInput(fmt.Errorf("%w (--strict: without it bad images are skipped and counted)", err))
			}
			return err
		}
		if asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		}
		return r.WriteText(e.stdout)
	}
	return c
}

// splitPart is one written part, as printed by dataset split.
type splitPart struct {
	Name        string         `json:"name"`
	Path        string         `json:"path"`
	NImages     int            `json:"n_images"`
	LabelCounts map[string]int `json:"label_counts"`
}

func newDatasetSplitCmd(e *env) *cobra.Command {
	var (
		data, out, ratiosFlag, namesFlag string
		rf                               readerFlags
		seed                             uint64
		check, asJSON                    bool
	)
	c := &cobra.Command{
		Use:   "split --data labels.csv --out dir/ [--ratios 0.8,0.1,0.1] [--names train,val,test] [--seed 1]",
		Short: "split a dataset by iterative stratification into CSV files",
		Args:  noArgs,
	}
	fs := c.Flags()
	dataFlag(c, &data)
	rf.register(fs, "with --check-images, fail at the first bad image")
	fs.StringVar(&out, "out", "", "output directory for <name>.csv files (required)")
	fs.StringVar(&ratiosFlag, "ratios", "0.8,0.1,0.1", "comma-separated part sizes (normalised to sum 1)")
	fs.StringVar(&namesFlag, "names", "", "comma-separated part names (default: train,val,test for three parts, train,test for two, else part1,part2,...)")
	fs.Uint64Var(&seed, "seed", 1, "random seed: the same seed and data give the same split")
	fs.BoolVar(&check, "check-images", false, "open the images first and leave bad ones out (counted and named)")
	fs.BoolVar(&asJSON, "json", false, "print the written parts as JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		if out == "" {
			return usageErrorf("--out is required")
		}
		var ratios []float64
		for _, s := range strings.Split(ratiosFlag, ",") {
			r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || !(r > 0) {
				return usageErrorf("--ratios: %q is not a positive number", s)
			}
			ratios = append(ratios, r)
		}
		names := defaultPartNames(len(ratios))
		if namesFlag != "" {
			names = strings.Split(namesFlag, ",")
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
		d, err := rf.load(c.Context(), data)
		if err != nil {
			return err
		}
		if check {
			clean, bad, err := dataset.DropBadImages(c.Context(), d, dataset.CheckOptions{Strict: rf.strict, Progress: e.stderr})
			if err != nil {
				if dataset.IsBadInput(err) {
					return badInput(err)
				}
				return err
			}
			for _, b := range bad {
				fmt.Fprintf(e.stderr, "skipped %s: %s\n", b.Path, b.Reason)
			}
			if len(bad) > 0 {
				fmt.Fprintf(e.stderr, "%d bad images left out\n", len(bad))
			}
			d = clean
		}
		parts, err := dataset.IterativeStratify(d, ratios, seed)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		var written []splitPart
		outside := false
		for j, idx := range parts {
			sub := d.Subset(idx)
			p := filepath.Join(out, names[j]+".csv")
			o, err := refsFromDir(sub, out)
			if err != nil {
				return err
			}
			outside = outside || o
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
		if asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"source": d.Source, "seed": seed, "ratios": ratios, "parts": written,
				"label_distribution_deviation": dataset.LabelDistribution(d, parts), "needs_allow_outside": outside})
		}
		for _, sp := range written {
			fmt.Fprintf(e.stdout, "%-6s %6d images -> %s\n", sp.Name, sp.NImages, sp.Path)
		}
		fmt.Fprintf(e.stdout, "label proportion deviation: %.5f (0 = every part keeps the label shares of the whole)\n",
			dataset.LabelDistribution(d, parts))
		if outside {
			fmt.Fprintf(e.stdout, "note: the images lie outside %s, so train on these files with --allow-outside (image references that leave a label file's folder are refused by default)\n", out)
		}
		return nil
	}
	return c
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

// refsFromDir rewrites the image references of d as paths relative to dir (absolute
// where no relative path exists, e.g. another volume), so that a CSV written into dir
// reads back, with no --images, to the same files: the CSV reader resolves a relative
// reference against the CSV's own directory and takes an absolute one as it is. It
// reports whether a reference leaves dir (such files need --allow-outside to be read).
func refsFromDir(d *dataset.Dataset, dir string) (outside bool, err error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return false, fmt.Errorf("dataset split: %w", err)
	}
	for k := range d.Samples {
		abs, err := filepath.Abs(d.Samples[k].Path)
		if err != nil {
			return false, fmt.Errorf("dataset split: %s: %w", d.Samples[k].Path, err)
		}
		ref := abs
		if rel, err := filepath.Rel(absDir, abs); err == nil {
			ref = filepath.ToSlash(rel)
		}
		if filepath.IsAbs(ref) || ref == ".." || strings.HasPrefix(ref, "../") {
			outside = true
		}
		d.Samples[k].Image = ref
	}
	return outside, nil
}
