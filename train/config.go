// Package train fits a classification head (package head) on in-memory backbone
// features with a multi-label loss (package loss), using GoMLX (on the backend internal/backends
// selects: ONNX Runtime, XLA or pure Go) for the training step and plain Go everywhere else.
//
// [Fit] runs mini-batch AdamW (decoupled weight decay, none on biases) with a
// warmup+cosine or one-cycle learning-rate schedule, seeded shuffling, optional
// dropout (MLP head), global gradient-norm clipping, an exponential moving average
// (EMA) of the weights, per-epoch validation (loss and mAP, for both the raw and the
// EMA weights, keeping the better), early stopping on validation mAP with patience,
// a per-epoch history, progress callbacks, and a checkpoint written each epoch
// (temp file + rename) from which a run can be resumed with the same final result
// as an uninterrupted run.
//
// The result is a plain-Go [head.Params] (with the feature standardisation learnt on
// the training set), so prediction needs no GoMLX.
//
// Performance: each training step is one compiled graph for the (fixed) batch size;
// the last, smaller batch of an epoch is padded with rows whose labels are masked out,
// which leaves the loss and its gradient unchanged (losses are means over known
// entries). Validation runs as one batch.
package train

import (
	"cmp"
	"fmt"
	"math"

	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/headparams"
	"github.com/multilabel/multilabel/internal/backends"
	"github.com/multilabel/multilabel/internal/hparams"
	"github.com/multilabel/multilabel/loss"
	"github.com/multilabel/multilabel/sampler"
)

// Learning-rate schedules.
const (
	// Cosine: linear warmup over WarmupEpochs, then cosine decay to 0.
	Cosine = "cosine"
	// OneCycle: Smith's one-cycle policy as in PyTorch's OneCycleLR (cosine
	// annealing, 30% rising from LR/25 to LR, then falling to LR/25/1e4). Only the
	// learning rate cycles; Adam's β1 stays fixed.
	OneCycle = "onecycle"
	// Constant keeps LR fixed.
	Constant = "constant"
)

// Config holds the training hyper-parameters. [DefaultConfig] gives the recommended
// values. In a Config built by hand, a zero Head, Loss, Schedule, Hidden, Epochs,
// BatchSize, LR, Beta1, Beta2 or AdamEps takes the default; a zero WeightDecay,
// Dropout, EMA, ClipNorm, WarmupEpochs or Patience means "off".
type Config struct {
	Head   string `json:"head"`             // "linear" (default), "mlp", "graph" or "attention"
	Hidden int    `json:"hidden,omitempty"` // MLP hidden width (default 512)
	// GraphTau and GraphP are the graph head's co-occurrence threshold τ and
	// re-weighting p (head.LabelGraph; defaults 0.4 and 0.2, ML-GCN's COCO choice);
	// GraphHidden is the width of its label embeddings (default 64). Zero takes the
	// default.
	GraphHidden int     `json:"graph_hidden,omitempty"`
	GraphTau    float64 `json:"graph_tau,omitempty"`
	GraphP      float64 `json:"graph_p,omitempty"`
	// Dropout is the MLP's dropout rate on its hidden layer, or the attention head's on
	// its three dropout sites (attention output, feed-forward hidden layer and output;
	// ML-Decoder uses 0.1), in [0, 1).
	Dropout float64 `json:"dropout,omitempty"`

	// Spatial is [C, H, W] of the training rows when they are spatial maps (C·H·W values
	// a row, channel-major): needed by the attention head and by Pool.
	Spatial []int `json:"spatial,omitempty"`
	// Pool, for a linear or MLP head on spatial maps, pools the map inside the head;
	// only "gem" (learnt exponent, initialised to 3) trains that way — the other
	// poolings are done by the backbone graph (backbone.Options.Pool).
	Pool string `json:"pool,omitempty"`
	// Attention sizes the attention head (zero fields take headparams' defaults: D 128,
	// 8 heads, FFN 4·D, at most 100 queries, learnt queries).
	Attention headparams.AttnOptions `json:"attention,omitempty"`

	Loss string `json:"loss"` // "bce" (default), "weighted", "focal" or "asl"
	// LossConfig overrides loss.Defaults(Loss) when not nil (an empty Kind is
	// taken from Loss; an empty Loss from its Kind). Weighted-loss positive weights left nil are
	// computed from the training labels.
	LossConfig *loss.Config `json:"loss_config,omitempty"`

	Epochs    int     `json:"epochs"`     // default 100
	BatchSize int     `json:"batch_size"` // default 64
	LR        float64 `json:"lr"`         // peak learning rate, default 1e-3
	// WeightDecay is AdamW's decoupled weight decay, applied to weights, never biases.
	WeightDecay float64 `json:"weight_decay"`
	Beta1       float64 `json:"beta1"`    // default 0.9
	Beta2       float64 `json:"beta2"`    // default 0.999
	AdamEps     float64 `json:"adam_eps"` // default 1e-8

	Schedule     string  `json:"schedule"`      // "cosine" (default), "onecycle" or "constant"
	WarmupEpochs float64 `json:"warmup_epochs"` // cosine schedule warmup, in epochs

	// ClipNorm clips the global gradient norm (0: no clipping).
	ClipNorm float64 `json:"clip_norm"`
	// EMA is the decay of the exponential moving average of the weights, per step
	// (0: no EMA). The effective decay ramps up as min(EMA, (1+t)/(10+t)).
	EMA float64 `json:"ema"`
	// Patience stops training when validation mAP has not improved for this many
	// epochs (0: never stop early). Needs a validation set.
	Patience int `json:"patience"`
	// NoStandardize disables feature standardisation (mean/std of the training set).
	NoStandardize bool `json:"no_standardize,omitempty"`

	Seed uint64 `json:"seed"`

	// Backend is the GoMLX backend of the training step: "auto" (default: ONNX Runtime
	// when its library is found, else XLA when a PJRT plugin is found, else pure Go),
	// "onnx", "xla" or "go" — the selection fine-tuning uses too (internal/backends).
	Backend string `json:"backend,omitempty"`
	// ORTLib is the ONNX Runtime library for the onnx backend ("" searches
	// $ONNXRUNTIME_LIB and the project's install place).
	ORTLib string `json:"-"`
	// Sampler chooses each epoch's visiting order (package sampler; zero: uniform, the
	// seeded permutation). Non-uniform samplers change the number of steps per epoch.
	Sampler sampler.Config `json:"sampler"`

	// Init, when set, gives the starting weights (a warm start) instead of a seeded
	// random initialisation; its Kind and sizes must match. Its Mean/Std are ignored
	// (standardisation is always learnt from the training set unless NoStandardize).
	Init *head.Params `json:"-"`

	// Checkpoint, when set, is the file written (temp + rename) after every epoch.
	Checkpoint string `json:"-"`
	// Resume continues from Checkpoint when that file exists (else starts afresh).
	// The checkpoint must come from the same configuration and data.
	Resume bool `json:"-"`
}

// DefaultConfig returns the recommended configuration for a linear probe with BCE.
func DefaultConfig() Config {
	return Config{
		Head: head.Linear, Hidden: 512, Dropout: 0.2, GraphTau: 0.4, GraphP: 0.2, GraphHidden: 64,
		Loss:   loss.BCE,
		Epochs: 100, BatchSize: 64, LR: 1e-3, WeightDecay: 1e-4,
		Beta1: 0.9, Beta2: 0.999, AdamEps: 1e-8,
		Schedule: Cosine, WarmupEpochs: 2,
		ClipNorm: 5, EMA: 0.99, Patience: 20,
	}
}

// resolved fills the zero fields that take defaults.
func (c Config) resolved() Config {
	d := DefaultConfig()
	c.Head = cmp.Or(c.Head, d.Head)
	c.Hidden = cmp.Or(c.Hidden, d.Hidden)
	if c.Loss == "" && c.LossConfig != nil {
		c.Loss = c.LossConfig.Kind
	}
	c.Loss = cmp.Or(c.Loss, d.Loss)
	c.Epochs = cmp.Or(c.Epochs, d.Epochs)
	c.BatchSize = cmp.Or(c.BatchSize, d.BatchSize)
	c.LR = cmp.Or(c.LR, d.LR)
	c.Beta1 = cmp.Or(c.Beta1, d.Beta1)
	c.Beta2 = cmp.Or(c.Beta2, d.Beta2)
	c.AdamEps = cmp.Or(c.AdamEps, d.AdamEps)
	c.Schedule = cmp.Or(c.Schedule, d.Schedule)
	c.Sampler = c.Sampler.Resolved()
	if c.Head == head.GraphHead {
		c.GraphTau = cmp.Or(c.GraphTau, d.GraphTau)
		c.GraphP = cmp.Or(c.GraphP, d.GraphP)
		c.GraphHidden = cmp.Or(c.GraphHidden, d.GraphHidden)
	} else {
		c.GraphTau, c.GraphP, c.GraphHidden = 0, 0, 0
	}
	switch c.Head {
	case head.MLP:
	case head.Attention:
		c.Hidden = 0
		c.Attention = c.Attention.Resolved()
	default:
		c.Hidden, c.Dropout = 0, 0
	}
	return c
}

// lossConfig returns the loss configuration to use.
func (c Config) lossConfig() loss.Config { return hparams.LossConfig(c.Loss, c.LossConfig) }

// Validate checks a configuration (after defaults are applied).
func (c Config) Validate() error {
	c = c.resolved()
	if _, err := backends.Parse(c.Backend); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	switch {
	case c.Head != head.Linear && c.Head != head.MLP && c.Head != head.GraphHead && c.Head != head.Attention:
		return fmt.Errorf("train: unknown head %q (want linear, mlp, graph or attention)", c.Head)
	case c.Head == head.GraphHead && !(c.GraphTau > 0 && c.GraphTau <= 1):
		return fmt.Errorf("train: graph threshold tau %v must be in (0, 1]", c.GraphTau)
	case c.Head == head.GraphHead && !(c.GraphP > 0 && c.GraphP < 1):
		return fmt.Errorf("train: graph re-weighting p %v must be in (0, 1)", c.GraphP)
	case c.Head == head.GraphHead && c.Init != nil:
		return fmt.Errorf("train: a warm start (Init) is not supported with the graph head")
	case c.Head == head.GraphHead && (c.Pool != "" || len(c.Spatial) > 0):
		return fmt.Errorf("train: the graph head trains on pooled features (no spatial maps, no in-head pooling)")
	case (c.Head == head.Attention || c.Pool != "") && (len(c.Spatial) != 3 || c.Spatial[0] <= 0 || c.Spatial[1] <= 0 || c.Spatial[2] <= 0):
		return fmt.Errorf("train: the %s head needs spatial maps: Spatial [C,H,W] is %v", cmp.Or(c.Pool, c.Head), c.Spatial)
	case c.Pool != "" && c.Pool != head.PoolGeM:
		return fmt.Errorf("train: in-head pooling %q: only gem trains on the map (avg, max and avgmax pool in the backbone graph)", c.Pool)
	case c.Pool != "" && c.Head == head.Attention:
		return fmt.Errorf("train: the attention head attends over the map's tokens and takes no pooling (%s)", c.Pool)
	case c.Hidden < 0:
		return fmt.Errorf("train: hidden width %d must be positive", c.Hidden)
	case c.GraphHidden < 0:
		return fmt.Errorf("train: graph embedding width %d must be positive", c.GraphHidden)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("train: dropout %v must be in [0, 1)", c.Dropout)
	}
	common := hparams.Common{Epochs: c.Epochs, BatchSize: c.BatchSize, Patience: c.Patience, LR: c.LR,
		WarmupEpochs: c.WarmupEpochs, WeightDecay: c.WeightDecay, ClipNorm: c.ClipNorm,
		Checkpoint: c.Checkpoint, Resume: c.Resume}
	if err := common.Validate("train"); err != nil {
		return err
	}
	switch {
	case !(c.Beta1 > 0 && c.Beta1 < 1) || !(c.Beta2 > 0 && c.Beta2 < 1):
		return fmt.Errorf("train: Adam betas %v, %v must be in (0, 1)", c.Beta1, c.Beta2)
	case !(c.AdamEps > 0) || !hparams.Finite(c.AdamEps):
		return fmt.Errorf("train: Adam epsilon %v must be positive", c.AdamEps)
	case c.Schedule != Cosine && c.Schedule != OneCycle && c.Schedule != Constant:
		return fmt.Errorf("train: unknown schedule %q (want cosine, onecycle or constant)", c.Schedule)
	case !(c.EMA >= 0 && c.EMA < 1):
		return fmt.Errorf("train: EMA decay %v must be in [0, 1)", c.EMA)
	}
	if err := c.Sampler.Validate(); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	lc := c.lossConfig()
	if lc.Kind != c.Loss {
		return fmt.Errorf("train: loss %q but loss config kind %q", c.Loss, lc.Kind)
	}
	return lc.Validate(len(lc.PosWeight)) // class count checked again in Fit
}

// LearningRate returns the schedule's learning rate at step (0-based) of total steps.
func LearningRate(c Config, step, total int) float64 {
	c = c.resolved()
	if total <= 0 {
		return c.LR
	}
	t := float64(step)
	T := float64(total)
	switch c.Schedule {
	case Cosine:
		warm := 0.0
		if total > 1 {
			warm = math.Min(c.WarmupEpochs*T/float64(max(c.Epochs, 1)), T-1)
		}
		if t < warm {
			return c.LR * (t + 1) / warm
		}
		span := T - warm
		return c.LR * 0.5 * (1 + math.Cos(math.Pi*(t-warm)/span))
	case OneCycle:
		// PyTorch OneCycleLR defaults: pct_start 0.3, div_factor 25, final_div_factor 1e4.
		initial := c.LR / 25
		final := initial / 1e4
		up := 0.3*T - 1
		cosAnneal := func(from, to, pct float64) float64 { return to + (from-to)/2*(1+math.Cos(math.Pi*pct)) }
		if t <= up {
			if up <= 0 {
				return c.LR
			}
			return cosAnneal(initial, c.LR, t/up)
		}
		down := T - 1 - up
		if down <= 0 {
			return final
		}
		return cosAnneal(c.LR, final, math.Min((t-up)/down, 1))
	}
	return c.LR
}

// newHead returns the seeded initial head for rows of dim values and classes labels.
func (c Config) newHead(dim, classes int) (*head.Params, error) {
	switch {
	case c.Head == head.Attention:
		ch, tok := c.Spatial[0], c.Spatial[1]*c.Spatial[2]
		if ch*tok != dim {
			return nil, fmt.Errorf("train: rows have %d values, Spatial %v needs %d", dim, c.Spatial, ch*tok)
		}
		return head.NewAttention(ch, tok, classes, c.Attention, c.Seed)
	case c.Pool == head.PoolGeM:
		ch, tok := c.Spatial[0], c.Spatial[1]*c.Spatial[2]
		if ch*tok != dim {
			return nil, fmt.Errorf("train: rows have %d values, Spatial %v needs %d", dim, c.Spatial, ch*tok)
		}
		p, err := head.New(c.Head, ch, c.Hidden, classes, c.Seed)
		if err != nil {
			return nil, err
		}
		p.In, p.Channels, p.Tokens, p.Pool, p.GeM = dim, ch, tok, head.PoolGeM, []float32{headparams.GeMInitP}
		return p, nil
	}
	return head.New(c.Head, dim, c.Hidden, classes, c.Seed)
}

// spatialMoments returns the standardisation of a head on spatial maps: per channel
// over all tokens for the attention head; for a pooling head, per column of the pooled
// training vectors at the initial exponent (then kept fixed while p is learnt).
func spatialMoments(p *head.Params, x []float32, n int) (mean, std []float32) {
	if p.Pool != "" {
		return moments(p.PoolMaps(x, n), n, p.Width())
	}
	c, t := p.Channels, p.Tokens
	s := make([]float64, c)
	s2 := make([]float64, c)
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for _, v := range x[(i*c+ch)*t : (i*c+ch+1)*t] {
				s[ch] += float64(v)
			}
		}
	}
	cnt := float64(n * t)
	for ch := range s {
		s[ch] /= cnt
	}
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for _, v := range x[(i*c+ch)*t : (i*c+ch+1)*t] {
				d := float64(v) - s[ch]
				s2[ch] += d * d
			}
		}
	}
	mean, std = make([]float32, c), make([]float32, c)
	for ch := range s {
		mean[ch] = float32(s[ch])
		sd := math.Sqrt(s2[ch] / cnt)
		if sd < 1e-6 {
			sd = 1
		}
		std[ch] = float32(sd)
	}
	return mean, std
}
