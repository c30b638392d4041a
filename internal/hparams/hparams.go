// Package hparams holds the optimisation settings that train.Config and finetune.Config
// share, with their one validation, so that both packages accept and refuse the same
// values with the same wording.
package hparams

import (
	"errors"
	"fmt"
	"math"

	"github.com/multilabel/multilabel/loss"
)

// Common are the shared settings, as resolved (defaults filled in) by the caller.
type Common struct {
	Epochs, BatchSize, Patience             int
	LR, WarmupEpochs, WeightDecay, ClipNorm float64
	Checkpoint                              string
	Resume                                  bool
}

// Finite reports whether v is neither NaN nor infinite.
func Finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Validate checks c; errors start with "<who>: ".
func (c Common) Validate(who string) error {
	switch {
	case c.Epochs < 0:
		return fmt.Errorf("%s: epochs %d must be positive", who, c.Epochs)
	case c.BatchSize < 0:
		return fmt.Errorf("%s: batch size %d must be positive", who, c.BatchSize)
	case !(c.LR > 0) || !Finite(c.LR):
		return fmt.Errorf("%s: learning rate %v must be positive", who, c.LR)
	case !(c.WeightDecay >= 0) || !Finite(c.WeightDecay):
		return fmt.Errorf("%s: weight decay %v must be >= 0", who, c.WeightDecay)
	case !(c.WarmupEpochs >= 0) || !Finite(c.WarmupEpochs):
		return fmt.Errorf("%s: warmup epochs %v must be >= 0", who, c.WarmupEpochs)
	case !(c.ClipNorm >= 0) || !Finite(c.ClipNorm):
		return fmt.Errorf("%s: clip norm %v must be >= 0", who, c.ClipNorm)
	case c.Patience < 0:
		return fmt.Errorf("%s: patience %d must be >= 0", who, c.Patience)
	case c.Resume && c.Checkpoint == "":
		return errors.New(who + ": resume needs a checkpoint path")
	}
	return nil
}

// LossConfig resolves a configuration's loss: the defaults of kind when lc is nil, else
// *lc with kind filling an empty Kind.
func LossConfig(kind string, lc *loss.Config) loss.Config {
	if lc == nil {
		return loss.Defaults(kind)
	}
	l := *lc
	if l.Kind == "" {
		l.Kind = kind
	}
	return l
}
