package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/dataset"
)

func newDatasetPackCmd(e *env) *cobra.Command {
	var (
		data, out, size string
		rf              readerFlags
		asJSON          bool
	)
	c := &cobra.Command{
		Use:   "pack --data D [--images DIR] --out 'shards/train-%06d.tar' [--shard-size 512MB]",
		Short: "pack a dataset into WebDataset tar shards (original image bytes + labels JSON)",
		Long: "pack writes KEY.EXT (the image file, unchanged) and KEY.json (labels, unknown labels, the original " +
			"image name) per sample, the vocabulary first in every shard. Every command reads the shards back with " +
			"--data 'shards/train-{000000..000009}.tar' (brace ranges and globs).",
		Args: noArgs,
	}
	fs := c.Flags()
	dataFlag(c, &data)
	rf.register(fs, "fail at the first unreadable image instead of leaving it out")
	fs.StringVar(&out, "out", "", "shard names: a printf pattern with one integer verb, e.g. shards/train-%06d.tar (required)")
	fs.StringVar(&size, "shard-size", "512MB", "close a shard once it holds this much (B, KB, MB, GB, KiB, MiB, GiB)")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		if out == "" {
			return usageErrorf("--out is required")
		}
		n, err := parseByteSize(size)
		if err != nil {
			return usageErrorf("--shard-size %q: %v", size, err)
		}
		d, err := rf.load(c.Context(), data)
		if err != nil {
			return err
		}
		res, err := dataset.Pack(c.Context(), d, dataset.PackOptions{Pattern: out, ShardSize: n, Strict: rf.strict})
		if err != nil {
			if dataset.IsBadInput(err) {
				return badInput(err)
			}
			return err
		}
		for i, s := range res.Skipped {
			if i == 10 {
				e.log.Warn("more images left out", "count", len(res.Skipped)-10)
				break
			}
			e.log.Warn("image left out", "reason", s)
		}
		if asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		}
		fmt.Fprintf(e.stdout, "packed %d samples into %d shard(s) (%d bytes), %d left out\n", res.Samples, len(res.Shards), res.Bytes, len(res.Skipped))
		return nil
	}
	return c
}

// parseByteSize reads "512MB", "1GiB", "4096" (bytes).
func parseByteSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.m
			break
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 || v > (1<<50)/mult {
		return 0, fmt.Errorf("want a positive size such as 512MB")
	}
	return v * mult, nil
}
