package loop

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// run drives Run with a fixed list of scores and records what the hooks saw.
func run(t *testing.T, cfg Config, st *State, scores []Score) (bests, ends []int) {
	t.Helper()
	err := Run(context.Background(), cfg, st, Hooks{
		Epoch: func(_ context.Context, epoch int) (Score, error) { return scores[epoch-1], nil },
		Best:  func(epoch int) error { bests = append(bests, epoch); return nil },
		End: func(epoch int, best bool, s State) error {
			if s.Epoch != epoch {
				t.Errorf("End(%d) got state at epoch %d", epoch, s.Epoch)
			}
			ends = append(ends, epoch)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return bests, ends
}

func sc(v ...float64) []Score {
	out := make([]Score, len(v))
	for i, x := range v {
		out[i] = Score{Value: x, OK: true}
	}
	return out
}

func TestBestAndPatience(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		cfg         Config
		scores      []Score
		bests, ends []int
		final       State
	}{
		{"no patience", Config{Epochs: 4}, sc(0.5, 0.4, 0.6, 0.6), []int{1, 3}, []int{1, 2, 3, 4},
			State{Epoch: 4, HasBest: true, BestEpoch: 3, BestScore: 0.6, SinceBest: 1}},
		{"patience 2 stops", Config{Epochs: 6, Patience: 2}, sc(0.5, 0.7, 0.6, 0.7, 0.9, 1), []int{1, 2}, []int{1, 2, 3, 4},
			State{Epoch: 4, HasBest: true, BestEpoch: 2, BestScore: 0.7, SinceBest: 2, Stopped: true}},
		{"first scored epoch is best even at 0", Config{Epochs: 2}, sc(0, 0), []int{1}, []int{1, 2},
			State{Epoch: 2, HasBest: true, BestEpoch: 1, SinceBest: 1}},
		{"unscored: no selection", Config{Epochs: 3, Patience: 1}, make([]Score, 3), nil, []int{1, 2, 3},
			State{Epoch: 3}},
		{"unscored is best", Config{Epochs: 3, Patience: 1, UnscoredIsBest: true}, make([]Score, 3), []int{1, 2, 3}, []int{1, 2, 3},
			State{Epoch: 3, HasBest: true, BestEpoch: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var st State
			bests, ends := run(t, tc.cfg, &st, tc.scores)
			if !reflect.DeepEqual(bests, tc.bests) || !reflect.DeepEqual(ends, tc.ends) || st != tc.final {
				t.Errorf("bests %v ends %v state %+v; want %v %v %+v", bests, ends, st, tc.bests, tc.ends, tc.final)
			}
		})
	}
}

// A starting point that is already the best (fine-tuning's epoch 0) must be beaten.
func TestStartingBest(t *testing.T) {
	t.Parallel()
	st := State{HasBest: true, BestScore: 0.8}
	bests, _ := run(t, Config{Epochs: 3, Patience: 2}, &st, sc(0.8, 0.7, 0.9))
	if bests != nil || !st.Stopped || st.Epoch != 2 || st.BestEpoch != 0 {
		t.Errorf("bests %v state %+v", bests, st)
	}
}

// A run stopped at any epoch and resumed from its saved state ends like an
// uninterrupted one.
func TestResumeFromAnyEpoch(t *testing.T) {
	t.Parallel()
	cfg := Config{Epochs: 7, Patience: 3}
	scores := sc(0.1, 0.3, 0.2, 0.25, 0.35, 0.3, 0.31)
	var full State
	fullBests, _ := run(t, cfg, &full, scores)
	for cut := 1; cut <= 6; cut++ {
		var saved State
		stop := errors.New("stop")
		err := Run(context.Background(), cfg, &saved, Hooks{
			Epoch: func(_ context.Context, epoch int) (Score, error) { return scores[epoch-1], nil },
			End: func(epoch int, _ bool, _ State) error {
				if epoch == cut {
					return stop
				}
				return nil
			},
		})
		if !errors.Is(err, stop) {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if saved.Done(cfg.Epochs) {
			continue
		}
		bests, _ := run(t, cfg, &saved, scores)
		if saved != full || (len(bests) > 0 && bests[len(bests)-1] != fullBests[len(fullBests)-1]) {
			t.Errorf("cut %d: resumed %+v, full %+v", cut, saved, full)
		}
	}
}

func TestResumeHelper(t *testing.T) {
	t.Parallel()
	absent := errors.New("absent")
	type ck struct{ fp uint64 }
	fp := func(c ck) uint64 { return c.fp }
	if _, ok, err := Resume("x", "p", func(string) (ck, error) { return ck{}, absent }, absent, fp, 1); ok || err != nil {
		t.Errorf("absent: ok=%v err=%v", ok, err)
	}
	if _, ok, err := Resume("x", "p", func(string) (ck, error) { return ck{fp: 2}, nil }, absent, fp, 1); ok || err == nil {
		t.Errorf("other fingerprint: ok=%v err=%v", ok, err)
	}
	boom := errors.New("boom")
	if _, _, err := Resume("x", "p", func(string) (ck, error) { return ck{}, boom }, absent, fp, 1); !errors.Is(err, boom) {
		t.Errorf("load error: %v", err)
	}
	if c, ok, err := Resume("x", "p", func(string) (ck, error) { return ck{fp: 1}, nil }, absent, fp, 1); !ok || err != nil || c.fp != 1 {
		t.Errorf("match: %v %v %v", c, ok, err)
	}
}
