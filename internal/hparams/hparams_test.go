package hparams

import (
	"math"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/loss"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := Common{Epochs: 3, BatchSize: 8, LR: 1e-3}
	if err := ok.Validate("x"); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*Common){
		"epochs":       func(c *Common) { c.Epochs = -1 },
		"batch size":   func(c *Common) { c.BatchSize = -1 },
		"learning":     func(c *Common) { c.LR = math.NaN() },
		"weight decay": func(c *Common) { c.WeightDecay = math.Inf(1) },
		"warmup":       func(c *Common) { c.WarmupEpochs = -0.5 },
		"clip norm":    func(c *Common) { c.ClipNorm = -1 },
		"patience":     func(c *Common) { c.Patience = -1 },
		"resume":       func(c *Common) { c.Resume = true },
	}
	for want, mod := range bad {
		c := ok
		mod(&c)
		err := c.Validate("x")
		if err == nil || !strings.HasPrefix(err.Error(), "x: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

func TestLossConfig(t *testing.T) {
	t.Parallel()
	if got := LossConfig(loss.ASL, nil); got.Kind != loss.ASL {
		t.Errorf("defaults: %+v", got)
	}
	lc := &loss.Config{}
	if got := LossConfig(loss.Focal, lc); got.Kind != loss.Focal || lc.Kind != "" {
		t.Errorf("kind filled: %+v (input %+v)", got, lc)
	}
	if got := LossConfig(loss.BCE, &loss.Config{Kind: loss.ASL}); got.Kind != loss.ASL {
		t.Errorf("explicit kind kept: %+v", got)
	}
}
