// Package loop is the epoch loop shared by head training (package train) and fine-tuning
// (package finetune): run the epochs left, score each on the validation set, keep track
// of the best epoch, stop after Patience epochs without a better score, and hand the
// state to the caller after every epoch so that it can write a checkpoint (through
// internal/checkpoint) and report progress. A resumed run continues from the State saved
// with its checkpoint and ends exactly where an uninterrupted run would.
//
// The loop owns the control flow and the bookkeeping only; the caller owns the weights,
// the training steps, the checkpoint layout and the epoch records.
package loop

import (
	"context"
	"errors"
	"fmt"
)

// Config says how many epochs to run and when to stop early.
type Config struct {
	Epochs int
	// Patience stops the run after this many scored epochs in a row without a better
	// score than the best (0: never stop early).
	Patience int
	// UnscoredIsBest makes every unscored epoch (no validation set) the best so far, so
	// that the caller keeps the last weights as its best; otherwise unscored epochs are
	// never best and leave the bookkeeping alone.
	UnscoredIsBest bool
}

// State is the loop's bookkeeping after the completed epochs; a checkpoint stores it.
type State struct {
	Epoch     int     // completed epochs
	HasBest   bool    // BestScore holds a score (else the first scored epoch is the best)
	BestEpoch int     // 1-based epoch of the best score (0: the starting point)
	BestScore float64 // best validation score so far
	SinceBest int     // scored epochs since the best one
	Stopped   bool    // patience ran out
}

// Done reports whether the run is over: every epoch ran, or patience ran out.
func (s State) Done(epochs int) bool { return s.Stopped || s.Epoch >= epochs }

// Score is an epoch's validation result; OK is false without a validation set.
type Score struct {
	Value float64
	OK    bool
}

// Hooks are the caller's parts of an epoch. Epoch is required; nil Best or End are
// skipped.
type Hooks struct {
	// Epoch runs the training steps of epoch (1-based) and scores the result on the
	// validation set (higher is better).
	Epoch func(ctx context.Context, epoch int) (Score, error)
	// Best is called when epoch gave the best score so far: the caller keeps a copy of
	// the current weights.
	Best func(epoch int) error
	// End is called after the bookkeeping of every epoch, with the new state and
	// whether the epoch was the best: the caller records the epoch, writes its
	// checkpoint and reports progress.
	End func(epoch int, best bool, st State) error
}

// Run runs the epochs left after st (the zero State for a fresh run, the saved one to
// resume) and updates st in place. It returns the first error of a hook as it is.
func Run(ctx context.Context, cfg Config, st *State, h Hooks) error {
	if h.Epoch == nil {
		return errors.New("loop: no Epoch hook")
	}
	for !st.Done(cfg.Epochs) {
		epoch := st.Epoch + 1
		sc, err := h.Epoch(ctx, epoch)
		if err != nil {
			return err
		}
		best := st.observe(epoch, sc, cfg)
		if best && h.Best != nil {
			if err := h.Best(epoch); err != nil {
				return err
			}
		}
		st.Epoch = epoch
		if h.End != nil {
			if err := h.End(epoch, best, *st); err != nil {
				return err
			}
		}
	}
	return nil
}

// observe records epoch's score and reports whether it is the best so far.
func (s *State) observe(epoch int, sc Score, cfg Config) bool {
	if !sc.OK {
		if cfg.UnscoredIsBest {
			s.HasBest, s.BestEpoch, s.BestScore, s.SinceBest = true, epoch, sc.Value, 0
			return true
		}
		return false
	}
	if !s.HasBest || sc.Value > s.BestScore {
		s.HasBest, s.BestEpoch, s.BestScore, s.SinceBest = true, epoch, sc.Value, 0
		return true
	}
	s.SinceBest++
	if cfg.Patience > 0 && s.SinceBest >= cfg.Patience {
		s.Stopped = true
	}
	return false
}

// Resume loads the checkpoint at path to continue a run. load returns an error
// matching absent (errors.Is) when there is no checkpoint: then Resume reports ok=false
// and a nil error, and the run starts afresh. A checkpoint whose fingerprint (of the
// configuration and data) differs from want is refused. who prefixes the messages.
func Resume[C any](who, path string, load func(path string) (C, error), absent error, fingerprint func(C) uint64, want uint64) (ck C, ok bool, err error) {
	var zero C
	ck, err = load(path)
	switch {
	case err == nil:
	case errors.Is(err, absent):
		return zero, false, nil
	default:
		return zero, false, err
	}
	if fingerprint(ck) != want {
		return zero, false, fmt.Errorf("%s: checkpoint %s comes from another configuration or data set; remove it or drop --resume", who, path)
	}
	return ck, true, nil
}
