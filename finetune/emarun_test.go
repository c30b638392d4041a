package finetune_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/finetune"
)

// TestRunEMA: with --ft-ema the average the checkpoint carries follows the hand
// recursion e_t = d_t·e_{t−1} + (1−d_t)·p_t over the raw weights p_t of each step
// (one step an epoch here), the raw trajectory is that of a run without EMA, and the
// kept weights (no validation: the last epoch) are the averaged ones.
func TestRunEMA(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	fm, spec, h, d, eopt := smallRun(t)
	d.Val, d.ValY = nil, nil
	const decay = 0.9
	type snap struct{ p, e, b [][]float32 }
	run := func(ema float64) []snap {
		cfg := finetune.DefaultConfig()
		cfg.Epochs, cfg.BatchSize, cfg.Seed, cfg.EMA = 3, len(d.Train), 5, ema
		cfg.Checkpoint = filepath.Join(t.TempDir(), "ema.ckpt")
		var out []snap
		_, err := finetune.Run(context.Background(), fm, spec, h, d, cfg, finetune.Options{Engine: eopt, OnEpoch: func(e finetune.Epoch) {
			if e.Epoch == 0 {
				return
			}
			p, em, b, step := finetune.CheckpointForTest(t, cfg.Checkpoint)
			if step != e.Epoch {
				t.Fatalf("epoch %d: step %d", e.Epoch, step)
			}
			out = append(out, snap{p, em, b})
		}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	with, without := run(decay), run(0)
	if len(with) != 3 || len(without) != 3 {
		t.Fatalf("%d and %d epochs", len(with), len(without))
	}
	for k := range with {
		if without[k].e != nil {
			t.Fatal("a run without EMA carries an average")
		}
		for j := range with[k].p {
			if maxDiff(with[k].p[j], without[k].p[j]) != 0 {
				t.Fatalf("epoch %d: EMA changed the raw weights of tensor %d", k+1, j)
			}
			if maxDiff(with[k].b[j], with[k].e[j]) != 0 {
				t.Fatalf("epoch %d: kept weights of tensor %d are not the averaged ones", k+1, j)
			}
			if maxDiff(without[k].b[j], without[k].p[j]) != 0 {
				t.Fatalf("epoch %d: without EMA the kept weights of tensor %d are not the raw ones", k+1, j)
			}
		}
	}
	for k := 1; k < 3; k++ {
		step := k + 1
		dk := min(decay, float64(1+step)/float64(10+step))
		for j := range with[k].e {
			prev, p, got := with[k-1].e[j], with[k].p[j], with[k].e[j]
			want := make([]float32, len(p))
			for i := range p {
				want[i] = float32(dk*float64(prev[i]) + (1-dk)*float64(p[i]))
			}
			if diff := maxDiff(got, want); diff > 1e-6 {
				t.Fatalf("step %d tensor %d: average off the hand recursion by %g", step, j, diff)
			}
		}
	}
	// The average lags the raw weights: after three steps they differ.
	var moved bool
	for j := range with[2].e {
		moved = moved || maxDiff(with[2].e[j], with[2].p[j]) > 0
	}
	if !moved {
		t.Error("averaged weights equal the raw ones")
	}
}
