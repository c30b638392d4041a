package model_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/model"
)

// BenchmarkPredictExplain predicts 300 MIML images with each bundle named in
// $MULTILABEL_BENCH_BUNDLE (comma-separated, e.g. a linear and an MLP bundle), without
// (plain) and with (explain) the maps of the predicted labels, and with the maps but no
// PNG (maps-no-png): the target is explain ≤ 1.5× plain. All the bundles run in
// each round, so that the machine's load hits them alike; the metrics are named by the
// bundle's file name.
func BenchmarkPredictExplain(b *testing.B) {
	list := os.Getenv("MULTILABEL_BENCH_BUNDLE")
	if list == "" {
		b.Skip("set MULTILABEL_BENCH_BUNDLE to .mlb files trained on MIML (comma-separated)")
	}
	dir := sharedtest.Dir(b, "data/miml-scenes/images")
	ents, _ := os.ReadDir(dir)
	var paths []string
	for _, e := range ents {
		paths = append(paths, filepath.Join(dir, e.Name()))
	}
	num := func(p string) int { n, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(p), ".jpg")); return n }
	sort.Slice(paths, func(i, j int) bool { return num(paths[i]) < num(paths[j]) })
	paths = paths[:300]
	ctx := context.Background()
	none := func(int, *model.Prediction) []int { return nil }
	type bench struct {
		name      string
		runs      []func() error
		warm      []func() error
		durations [3]time.Duration
	}
	var benches []*bench
	for _, mlb := range strings.Split(list, ",") {
		plain, err := model.LoadWith(mlb, model.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer plain.Close()
		ex, err := model.LoadWith(mlb, model.Options{Explain: true})
		if err != nil {
			b.Fatal(err)
		}
		defer ex.Close()
		runs := func(paths []string) []func() error {
			return []func() error{
				func() error { _, err := plain.PredictFiles(ctx, paths); return err },
				func() error { _, err := ex.ExplainFiles(ctx, paths, none); return err },
				func() error { _, err := ex.PredictFiles(ctx, paths); return err },
			}
		}
		benches = append(benches, &bench{name: strings.TrimSuffix(filepath.Base(mlb), ".mlb"), runs: runs(paths), warm: runs(paths[:16])})
	}
	// One untimed run of each (the first run of an engine session allocates its
	// buffers), on a few images.
	for _, bn := range benches {
		for _, run := range bn.warm {
			if err := run(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		// Each bundle's three runs back to back, then again in the reverse order, so
		// that a drift of the machine's load falls on all of them alike.
		for q := range 6 * len(benches) {
			if q >= 3*len(benches) {
				q = 6*len(benches) - 1 - q
			}
			bn, k := benches[q/3], q%3
			t0 := time.Now()
			if err := bn.runs[k](); err != nil {
				b.Fatal(err)
			}
			bn.durations[k] += time.Since(t0)
		}
	}
	for _, bn := range benches {
		d := bn.durations
		b.ReportMetric(d[0].Seconds()/float64(2*b.N), bn.name+"-plain-s")
		b.ReportMetric(d[1].Seconds()/float64(2*b.N), bn.name+"-maps-no-png-s")
		b.ReportMetric(d[2].Seconds()/float64(2*b.N), bn.name+"-explain-s")
		b.ReportMetric(d[1].Seconds()/d[0].Seconds(), bn.name+"-maps/plain")
		b.ReportMetric(d[2].Seconds()/d[0].Seconds(), bn.name+"-explain/plain")
	}
}
