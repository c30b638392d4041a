package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/objstore"
	"github.com/multilabel/multilabel/shard"
)

// shardFlags are --shard I/N and --num-shards N, shared by the commands whose work
// splits over independent workers (features, predict, eval --model).
type shardFlags struct {
	spec string
	num  int
}

func (f *shardFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.spec, "shard", "", "do only shard I/N of the work (images split by a stable hash of their name; default: $"+shard.EnvIndex+" with --num-shards)")
	fs.IntVar(&f.num, "num-shards", 0, "number of shards N when the index comes from $"+shard.EnvIndex+" (default $"+shard.EnvNum+")")
}

// resolve returns the shard the flags and the environment give (bad usage if invalid).
func (f *shardFlags) resolve(e *env) (shard.Spec, error) {
	getenv := e.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	s, err := shard.FromEnv(f.spec, f.num, getenv)
	if err != nil {
		return shard.Spec{}, usageErrorf("%v", err)
	}
	return s, nil
}

// expandShardArgs expands brace ranges ({0..15}) and, in local paths, glob patterns
// among args (a shell may have left them quoted).
func expandShardArgs(args []string) ([]string, error) {
	var out []string
	var braced []string
	for _, a := range args {
		names, err := dataset.ExpandBraces(a)
		if err != nil {
			return nil, usageErrorf("%s: %v", a, err)
		}
		braced = append(braced, names...)
	}
	for _, a := range braced {
		if !strings.ContainsAny(a, "*?[") || objstore.IsURL(a) {
			out = append(out, a)
			continue
		}
		m, err := filepath.Glob(a)
		if err != nil {
			return nil, usageErrorf("%s: %v", a, err)
		}
		if len(m) == 0 {
			return nil, badInput(fmt.Errorf("%s matches no file", a))
		}
		out = append(out, m...)
	}
	return out, nil
}

func newFeaturesMergeCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use: "merge OUT.npy SHARD.npy...",
		// Hidden from the parent's command list (features is a command that runs, and its
		// usage on a flag error stays its own); its Long help names it.
		Hidden: true,
		Short:  "join the shard outputs of a sharded features run (features --shard I/N) into one .npy",
		Long: "merge joins the outputs f.shard-I-of-N.npy of every shard of one run, in dataset order, into OUT " +
			"(with OUT.names.txt and OUT.manifest.json): byte for byte what one process over the whole dataset writes. " +
			"It refuses a missing, duplicate or incomplete shard and shards of different runs (backbone, cut, preprocessing).",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageErrorf("want OUT.npy and at least one shard")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			out := args[0]
			if !strings.HasSuffix(strings.ToLower(strings.SplitN(out, "?", 2)[0]), ".npy") {
				return usageErrorf("%s: want a .npy file name", out)
			}
			ins, err := expandShardArgs(args[1:])
			if err != nil {
				return err
			}
			rs, err := newRemote(args...)
			if err != nil {
				return err
			}
			defer rs.close()
			locals := make([]string, len(ins))
			for i, in := range ins {
				if locals[i], err = rs.fetchOutput(ctx, in); err != nil {
					return err
				}
			}
			m, err := featcache.MergeShards(rs.localOut(out), locals)
			if err != nil {
				return err
			}
			if err := rs.publish(ctx, rs.localOut(out), out); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "merged %d shards into %s [%d, %d] and %s\n", len(ins), out, m.Rows, m.Dim, featcache.NamesPath(out))
			return nil
		},
	}
}

// selectShard returns the indices of d's samples that belong to spec, keyed by their
// image reference as the label source writes it (see package shard).
func selectShard(d *dataset.Dataset, spec shard.Spec) []int {
	keys := make([]string, len(d.Samples))
	for i, s := range d.Samples {
		keys[i] = filepath.ToSlash(s.Image)
	}
	return spec.Select(keys)
}

// printShardComplete reports a shard whose output a previous run completed.
func printShardComplete(e *env, asJSON bool, out string, spec shard.Spec) error {
	e.log.Info("shard already complete; nothing to do", "shard", spec.String(), "out", out)
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(featuresSummary{Shard: spec.String(), Complete: true, Out: out,
			Names: featcache.NamesPath(out), Bad: []featcache.BadImage{}})
	}
	fmt.Fprintf(e.stdout, "shard %s already complete: %s (delete its .manifest.json to redo it)\n", spec, out)
	return nil
}

func slashed(paths []string) []string {
	k := make([]string, len(paths))
	for i, p := range paths {
		k[i] = filepath.ToSlash(p)
	}
	return k
}

func pick(s []string, idx []int) []string {
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = s[i]
	}
	return out
}

// writePredictionRows writes predict --out: the scores CSV of the readable images and its
// manifest (unreadable ones are reported on stderr and left out).
func writePredictionRows(out string, m *model.Model, spec shard.Spec, total int, sel []int, preds []model.Prediction) error {
	var rows []string
	var index []int
	for k, p := range preds {
		if p.Err != nil {
			continue
		}
		rows = append(rows, model.PredictionCSVRow(p))
		index = append(index, sel[k])
	}
	man := shard.RowsManifest{Kind: "predictions", Producer: m.Bundle.ID, Shard: spec, Total: total, Selected: len(sel)}
	return shard.WriteRows(out, man, m.PredictionCSVHeader(), rows, index)
}

func newPredictMergeCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "merge OUT.csv SHARD.csv...",
		Hidden: true, // see features merge
		Short:  "join the outputs of a sharded predict run (predict --shard I/N --out F.csv) into one CSV",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageErrorf("want OUT.csv and at least one shard")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			ins, err := expandShardArgs(args[1:])
			if err != nil {
				return err
			}
			m, err := shard.MergeRows(args[0], ins)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "merged %d shards into %s (%d rows)\n", len(ins), args[0], len(m.Index))
			return nil
		},
	}
}

// warnSkipped logs the samples the reader left out (at most 10 lines).
func warnSkipped(e *env, d *dataset.Dataset) {
	for i, s := range d.Skipped {
		if i == 10 {
			e.log.Warn("more samples left out", "count", len(d.Skipped)-10)
			break
		}
		e.log.Warn("sample left out", "reason", s)
	}
}
