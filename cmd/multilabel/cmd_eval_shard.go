package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/shard"
)

// evalShardFlags are eval --model's sharding: --shard I/N (or $JOB_COMPLETION_INDEX with
// --num-shards) with --predictions-out F.csv scores only the shard's images and writes
// them as a predictions CSV (image,<label>...) with a manifest; "predict merge" joins the
// shards and "eval --predictions merged.csv" computes the metrics of the whole set.
type evalShardFlags struct {
	shardFlags
	out string
}

func (f *evalShardFlags) register(fs *pflag.FlagSet) {
	f.shardFlags.register(fs)
	fs.StringVar(&f.out, "predictions-out", "", "with --model: write the scores as a predictions CSV (the input of --predictions) instead of evaluating; needed with --shard")
}

// run does the sharded (or --predictions-out) work of eval --model; done reports that
// it did, so eval has nothing left to do.
func (f *evalShardFlags) run(ctx context.Context, e *env, rs *remote, load datasetLoader, modelPath, data string, dopt dataset.Options, mopt model.Options) (done bool, err error) {
	spec, err := f.resolve(e)
	if err != nil {
		return true, err
	}
	if f.out == "" {
		if spec.Sharded() {
			return true, usageErrorf("--shard %s needs --predictions-out F.csv (each shard writes its own file)", spec)
		}
		return false, nil
	}
	b, err := bundle.Read(modelPath)
	if err != nil {
		return true, badInput(err)
	}
	dopt.Labels = b.Labels
	d, err := load(data, dopt)
	if err != nil {
		return true, err
	}
	outURL := shardOut(spec, f.out)
	out, err := rs.rowsOut(ctx, outURL)
	if err != nil {
		return true, err
	}
	total := len(d.Samples)
	if spec.Sharded() && shard.RowsComplete(out, "eval-predictions", b.ID, spec, total) {
		fmt.Fprintf(e.stdout, "shard %s already complete: %s\n", spec, outURL)
		return true, nil
	}
	sel := selectShard(d, spec)
	m, err := model.New(b, mopt)
	if err != nil {
		return true, err
	}
	defer m.Close()
	sub := d.Subset(sel)
	sub.Source = data
	sc, err := m.ScoreSamples(ctx, sub)
	if err != nil {
		if model.IsBadInput(err) {
			return true, badInput(err)
		}
		return true, err
	}
	for _, bad := range sc.Bad {
		fmt.Fprintf(e.stderr, "skipped %s: %s\n", bad.Path, bad.Reason)
	}
	// sc holds the readable samples in subset order; map them back to dataset indices.
	bad := map[int]bool{}
	for _, b := range sc.Bad {
		bad[b.Index] = true
	}
	var rows []string
	var index []int
	r := 0
	for k := range sub.Samples {
		if bad[k] {
			continue
		}
		rows = append(rows, model.PredictionCSVRow(model.Prediction{Path: sc.Names[r], Scores: sc.Scores[r]}))
		index = append(index, sel[k])
		r++
	}
	header := model.CSVLine(append([]string{"image"}, m.Labels()...))
	man := shard.RowsManifest{Kind: "eval-predictions", Producer: b.ID, Shard: spec, Total: total, Selected: len(sel)}
	if err := shard.WriteRows(out, man, header, rows, index); err != nil {
		return true, err
	}
	if err := rs.publishRows(ctx, out, outURL); err != nil {
		return true, err
	}
	fmt.Fprintf(e.stdout, "wrote %s (%d images, %d unreadable)\n", outURL, len(rows), len(sc.Bad))
	return true, nil
}
