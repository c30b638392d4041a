package train

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/loss"
	"github.com/multilabel/multilabel/metric"
)

// split cuts rows [0, k) and [k, n).
func split(x []float32, y [][]int8, dim, k int) ([]float32, [][]int8, []float32, [][]int8) {
	return x[:k*dim], y[:k], x[k*dim:], y[k:]
}

// headMAP scores rows with the pure-Go head and returns their mAP.
func headMAP(t *testing.T, p *head.Params, x []float32, y [][]int8) (float64, []float64) {
	t.Helper()
	l, err := p.Forward(x, len(y))
	if err != nil {
		t.Fatal(err)
	}
	s := make([][]float32, len(y))
	for i := range s {
		s[i] = l[i*p.Out : (i+1)*p.Out]
	}
	m, per, _ := metric.MeanAP(s, y)
	return m, per
}

func TestSeparable(t *testing.T) {
	t.Parallel()
	const dim = 24
	x, y := synthetic(700, dim, []float64{0.4, 0.3, 0.3, 0.2, 0.5}, 0.15, 0, 1)
	trX, trY, vaX, vaY := split(x, y, dim, 500)
	for _, kind := range []string{head.Linear, head.MLP} {
		cfg := DefaultConfig()
		cfg.Head, cfg.Hidden, cfg.Epochs, cfg.BatchSize, cfg.LR = kind, 32, 25, 32, 1e-2
		epochs := 0
		res, err := Fit(context.Background(), cfg, trX, trY, vaX, vaY, dim, Callbacks{OnEpoch: func(Epoch) { epochs++ }})
		if err != nil {
			t.Fatal(err)
		}
		if res.BestValMAP < 0.95 {
			t.Errorf("%s: val mAP %.4f < 0.95", kind, res.BestValMAP)
		}
		if epochs != len(res.History) {
			t.Errorf("%s: OnEpoch called %d times for %d epochs", kind, epochs, len(res.History))
		}
		// The pure-Go forward of the returned head reproduces the validation mAP.
		got, _ := headMAP(t, &res.Head, vaX, vaY)
		if math.Abs(got-res.BestValMAP) > 1e-6 {
			t.Errorf("%s: pure-Go head val mAP %.6f, training reported %.6f", kind, got, res.BestValMAP)
		}
		h := res.History
		if !(h[len(h)-1].TrainLoss < h[0].TrainLoss) {
			t.Errorf("%s: train loss did not fall: %v -> %v", kind, h[0].TrainLoss, h[len(h)-1].TrainLoss)
		}
		t.Logf("%s: best epoch %d val mAP %.4f ema=%v, %.2fs/epoch", kind, res.BestEpoch, res.BestValMAP, res.UsedEMA, h[0].Seconds)
	}
}

func stripTimes(h []Epoch) []Epoch {
	out := append([]Epoch(nil), h...)
	for i := range out {
		out[i].Seconds = 0
	}
	return out
}

func smallCfg() Config {
	cfg := DefaultConfig()
	cfg.Head, cfg.Hidden, cfg.Dropout = head.MLP, 16, 0.3
	cfg.Epochs, cfg.BatchSize, cfg.LR, cfg.Seed = 6, 16, 3e-3, 42
	cfg.Schedule = OneCycle
	return cfg
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	const dim = 12
	x, y := synthetic(150, dim, []float64{0.3, 0.5, 0.1}, 0.2, 0.05, 3)
	trX, trY, vaX, vaY := split(x, y, dim, 100)
	cfg := smallCfg()
	a, err := Fit(context.Background(), cfg, trX, trY, vaX, vaY, dim, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Fit(context.Background(), cfg, trX, trY, vaX, vaY, dim, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stripTimes(a.History), stripTimes(b.History)) || !reflect.DeepEqual(a.Head, b.Head) {
		t.Fatalf("same seed, different runs:\n%+v\n%+v", stripTimes(a.History), stripTimes(b.History))
	}
	cfg.Seed++
	c, err := Fit(context.Background(), cfg, trX, trY, vaX, vaY, dim, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(stripTimes(a.History), stripTimes(c.History)) {
		t.Error("different seeds gave identical histories")
	}
}

// A run killed after epoch 3 and resumed from its checkpoint ends exactly like an
// uninterrupted run.
func TestResume(t *testing.T) {
	t.Parallel()
	const dim = 12
	x, y := synthetic(150, dim, []float64{0.3, 0.5, 0.1}, 0.2, 0.05, 4)
	trX, trY, vaX, vaY := split(x, y, dim, 100)
	dir := t.TempDir()
	cfg := smallCfg()
	cfg.Loss = loss.ASL
	cfg.Checkpoint = filepath.Join(dir, "full.ckpt")
	full, err := Fit(context.Background(), cfg, trX, trY, vaX, vaY, dim, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}

	cfg.Checkpoint = filepath.Join(dir, "killed.ckpt")
	ctx, cancel := context.WithCancel(context.Background())
	_, err = Fit(ctx, cfg, trX, trY, vaX, vaY, dim, Callbacks{OnEpoch: func(e Epoch) {
		if e.Epoch == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("killed run: err = %v, want context.Canceled", err)
	}
	cfg.Resume = true
	var resumedEpochs []int
	res, err := Fit(context.Background(), cfg, trX, trY, vaX, vaY, dim, Callbacks{OnEpoch: func(e Epoch) {
		resumedEpochs = append(resumedEpochs, e.Epoch)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || !reflect.DeepEqual(resumedEpochs, []int{4, 5, 6}) {
		t.Errorf("resumed=%v, epochs run after resume %v, want [4 5 6]", res.Resumed, resumedEpochs)
	}
	if !reflect.DeepEqual(stripTimes(full.History), stripTimes(res.History)) {
		t.Errorf("history differs:\nfull    %+v\nresumed %+v", stripTimes(full.History), stripTimes(res.History))
	}
	if !reflect.DeepEqual(full.Head, res.Head) || full.BestEpoch != res.BestEpoch || full.Steps != res.Steps {
		t.Error("resumed head differs from the uninterrupted run's")
	}

	// A checkpoint from other data is refused.
	trY2 := append([][]int8{{1, 1, 1}}, trY[1:]...)
	if _, err := Fit(context.Background(), cfg, trX, trY2, vaX, vaY, dim, Callbacks{}); err == nil {
		t.Error("resume accepted a checkpoint from other data")
	}
}

// On imbalanced data every loss trains, and the rare labels' AP is reported for
// BCE and the re-weighting losses.
func TestImbalanced(t *testing.T) {
	t.Parallel()
	const dim = 16
	rates := []float64{0.5, 0.3, 0.04, 0.03}
	x, y := synthetic(900, dim, rates, 0.1, 0.005, 5)
	trX, trY, vaX, vaY := split(x, y, dim, 600)
	rare := func(per []float64) float64 { return (per[2] + per[3]) / 2 }
	var bceRare float64
	for _, l := range loss.Kinds {
		cfg := DefaultConfig()
		cfg.Loss, cfg.Epochs, cfg.BatchSize, cfg.LR, cfg.Seed = l, 20, 32, 1e-2, 9
		res, err := Fit(context.Background(), cfg, trX, trY, vaX, vaY, dim, Callbacks{})
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		m, per := headMAP(t, &res.Head, vaX, vaY)
		if m < 0.7 || rare(per) < 0.3 {
			t.Errorf("%s: val mAP %.3f, rare-label AP %.3f: did not train", l, m, rare(per))
		}
		if l == loss.BCE {
			bceRare = rare(per)
		}
		t.Logf("%-8s val mAP %.4f  rare-label AP %.4f (BCE %.4f)  per-class %.3f", l, m, rare(per), bceRare, per)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	x := []float32{1, 2, 3, 4}
	y := [][]int8{{1, 0}, {0, 1}}
	ctx := context.Background()
	cases := map[string]func() error{
		"short features": func() error { _, err := Fit(ctx, DefaultConfig(), x[:3], y, nil, nil, 2, Callbacks{}); return err },
		"ragged labels": func() error {
			_, err := Fit(ctx, DefaultConfig(), x, [][]int8{{1, 0}, {1}}, nil, nil, 2, Callbacks{})
			return err
		},
		"label 2": func() error {
			_, err := Fit(ctx, DefaultConfig(), x, [][]int8{{1, 0}, {2, 0}}, nil, nil, 2, Callbacks{})
			return err
		},
		"NaN feature": func() error {
			_, err := Fit(ctx, DefaultConfig(), []float32{1, float32(math.NaN()), 3, 4}, y, nil, nil, 2, Callbacks{})
			return err
		},
		"val classes": func() error {
			_, err := Fit(ctx, DefaultConfig(), x, y, x[:2], [][]int8{{1}}, 2, Callbacks{})
			return err
		},
		"no rows":  func() error { _, err := Fit(ctx, DefaultConfig(), nil, nil, nil, nil, 2, Callbacks{}); return err },
		"zero dim": func() error { _, err := Fit(ctx, DefaultConfig(), x, y, nil, nil, 0, Callbacks{}); return err },
		"bad head": func() error {
			c := DefaultConfig()
			c.Head = "cnn"
			_, err := Fit(ctx, c, x, y, nil, nil, 2, Callbacks{})
			return err
		},
		"bad loss": func() error {
			c := DefaultConfig()
			c.Loss = "hinge"
			_, err := Fit(ctx, c, x, y, nil, nil, 2, Callbacks{})
			return err
		},
		"pos weights": func() error {
			c := DefaultConfig()
			c.Loss, c.LossConfig = loss.Weighted, &loss.Config{PosWeight: []float32{1, 2, 3}}
			_, err := Fit(ctx, c, x, y, nil, nil, 2, Callbacks{})
			return err
		},
		"resume without checkpoint": func() error {
			c := DefaultConfig()
			c.Resume = true
			_, err := Fit(ctx, c, x, y, nil, nil, 2, Callbacks{})
			return err
		},
	}
	for name, f := range cases {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLearningRate(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Epochs, cfg.WarmupEpochs, cfg.LR = 10, 2, 1
	total := 100
	if lr := LearningRate(cfg, 0, total); math.Abs(lr-1.0/20) > 1e-12 {
		t.Errorf("cosine step 0: %v, want 1/20", lr)
	}
	if lr := LearningRate(cfg, 19, total); math.Abs(lr-1) > 1e-12 {
		t.Errorf("cosine end of warmup: %v, want 1", lr)
	}
	if lr := LearningRate(cfg, 60, total); math.Abs(lr-0.5) > 1e-12 {
		t.Errorf("cosine midway: %v, want 0.5", lr)
	}
	cfg.Schedule = OneCycle
	// Values of torch.optim.lr_scheduler.OneCycleLR(max_lr=1, total_steps=100) (defaults).
	for _, c := range []struct {
		step int
		want float64
	}{{0, 0.04}, {29, 1}, {99, 4e-6}} {
		if lr := LearningRate(cfg, c.step, total); math.Abs(lr-c.want) > 1e-9 {
			t.Errorf("one-cycle step %d: %v, want %v", c.step, lr, c.want)
		}
	}
	for s := 1; s < 29; s++ {
		if LearningRate(cfg, s, total) <= LearningRate(cfg, s-1, total) {
			t.Fatalf("one-cycle not rising at step %d", s)
		}
	}
}

func TestLossConfigKind(t *testing.T) {
	t.Parallel()
	c := Config{LossConfig: &loss.Config{Kind: loss.Focal, Gamma: 1}}
	if err := c.Validate(); err != nil || c.resolved().Loss != loss.Focal {
		t.Errorf("loss kind from LossConfig: %v, %q", err, c.resolved().Loss)
	}
	c = Config{Loss: loss.ASL, LossConfig: &loss.Config{Kind: loss.Focal}}
	if c.Validate() == nil {
		t.Error("conflicting loss kinds accepted")
	}
}
