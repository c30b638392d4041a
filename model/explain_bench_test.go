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

// BenchmarkPredictExplain predicts 300 MIML images with a bundle given by
// $MULTILABEL_BENCH_BUNDLE, without (plain) and with (explain) the maps of the
// predicted labels: the target is explain ≤ 1.5× plain.
func BenchmarkPredictExplain(b *testing.B) {
	mlb := os.Getenv("MULTILABEL_BENCH_BUNDLE")
	if mlb == "" {
		b.Skip("set MULTILABEL_BENCH_BUNDLE to a .mlb trained on MIML")
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
	ctx := context.Background()
	none := func(int, *model.Prediction) []int { return nil }
	// Interleaved rounds, so that the machine's load hits all three alike.
	var tPlain, tMaps, tExplain time.Duration
	for range b.N {
		for k, run := range []func() error{
			func() error { _, err := plain.PredictFiles(ctx, paths); return err },
			func() error { _, err := ex.ExplainFiles(ctx, paths, none); return err },
			func() error { _, err := ex.PredictFiles(ctx, paths); return err },
		} {
			t0 := time.Now()
			if err := run(); err != nil {
				b.Fatal(err)
			}
			d := time.Since(t0)
			switch k {
			case 0:
				tPlain += d
			case 1:
				tMaps += d
			default:
				tExplain += d
			}
		}
	}
	b.ReportMetric(tPlain.Seconds()/float64(b.N), "plain-s")
	b.ReportMetric(tMaps.Seconds()/float64(b.N), "maps-no-png-s")
	b.ReportMetric(tExplain.Seconds()/float64(b.N), "explain-s")
	b.ReportMetric(tExplain.Seconds()/tPlain.Seconds(), "explain/plain")
}
