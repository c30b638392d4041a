package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/headparams"
	"github.com/multilabel/multilabel/train"
)

// HeadAuto is TrainConfig.Train.Head's value that trains the linear, MLP and (on a cut
// with spatial dimensions) attention heads on the run's own split and keeps the one
// with the best validation mAP.
const HeadAuto = "auto"

// DefaultAttnEpochs is the attention head's default epoch budget (TrainConfig.AttnEpochs;
// the CLI's default for --head attention too).
const DefaultAttnEpochs = 10

// AttnWeightDecay is the attention head's AdamW weight decay when --head auto trains it
// (and the CLI's default for --head attention): the head fits MIML's 1,050 images in a
// few epochs, and 0.05 (against the vector heads' 1e-4) measured better there.
const AttnWeightDecay = 0.05

// AttnDropout is the attention head's dropout when --head auto trains it (ML-Decoder's).
const AttnDropout = 0.1

// AutoCandidate is one head --head auto trained.
type AutoCandidate struct {
	Head string `json:"head"`
	// ValMAP is the validation mAP of its selected epoch; BestEpoch that epoch.
	ValMAP    float64 `json:"val_map"`
	BestEpoch int     `json:"best_epoch"`
	Seconds   float64 `json:"seconds"`
	// Skipped says why the head was not trained (e.g. the cut has no spatial map).
	Skipped string `json:"skipped,omitempty"`
}

// AutoChoice records what --head auto did: every candidate, the chosen head and why.
type AutoChoice struct {
	Candidates []AutoCandidate `json:"candidates"`
	Chosen     string          `json:"chosen"`
	Reason     string          `json:"reason"`
}

// spatialHead reports whether the configured head trains on the spatial map.
func spatialHead(c train.Config) bool { return c.Head == head.Attention || c.Pool == head.PoolGeM }

// spatialPlan says whether the run extracts spatial maps and which pooling builds the
// backbone graph: attention and gem need the maps (an error naming the cut when it has
// none); auto uses them when the cut has them.
func spatialPlan(cfg TrainConfig, bb *backbone.Backbone) (bool, error) {
	t := cfg.Train
	_, _, _, err := bb.SpatialShape()
	switch {
	case spatialHead(t) && cfg.Features != "":
		return false, errkind.BadInput("--features holds pooled feature vectors: --head attention and --pool gem need the spatial maps (train from the images, or drop --features)")
	case spatialHead(t):
		if err != nil {
			what := "--head attention"
			if t.Pool == head.PoolGeM {
				what = "--pool gem"
			}
			return false, errkind.WrapBadInput(fmt.Errorf("%s needs the spatial map at the cut: %w", what, err))
		}
		return true, nil
	case t.Head == HeadAuto:
		return err == nil && !cfg.vectorOnly && cfg.Features == "", nil
	}
	return false, nil
}

// poolVectors pools the maps of r.sets[k] on the host as the backbone graph does
// (cfg.Pool: avg, max or avgmax).
func (r *run) poolVectors(k int) []float32 {
	c, h, w := r.spatial[0], r.spatial[1], r.spatial[2]
	p := headparams.Params{Kind: head.Linear, In: c * h * w, Channels: c, Tokens: h * w, Pool: r.bb.Pool}
	if p.Pool == "" {
		p.Pool = backbone.PoolAvg
	}
	return p.PoolMaps(r.sets[k].x, len(r.sets[k].y))
}

// fitAuto trains the candidate heads and keeps the best by validation mAP. A vector
// head that wins is trained on the maps pooled on the host, and the bundle then takes
// the backbone's pooled graph; the attention head keeps the spatial graph.
func (r *run) fitAuto(ctx context.Context) error {
	if r.split.Val == 0 {
		// Nothing to choose by: the simplest head, said so.
		c := r.cfg.Train
		c.Head = head.Linear
		x, vx, dim := r.sets[0].x, r.sets[1].x, r.dim
		var pooled [3][]float32
		if r.spatial != nil && c.Pool == head.PoolGeM {
			c.Spatial = r.spatial
		} else if r.spatial != nil {
			for k := range pooled {
				pooled[k] = r.poolVectors(k)
			}
			x, vx, dim = pooled[0], pooled[1], r.pooledDim
		}
		fit, err := r.fitOne(ctx, c, x, vx, dim, "train linear")
		if err != nil {
			return err
		}
		r.cfg.Train = c
		r.probe.Fit = fit
		r.probe.Auto = &AutoChoice{Chosen: head.Linear, Reason: "no validation images to choose by: kept the linear head",
			Candidates: []AutoCandidate{{Head: head.Linear, BestEpoch: fit.BestEpoch}}}
		r.log.Warn("train: --head auto has no validation images to choose by; training the linear head")
		if r.spatial != nil && c.Pool != head.PoolGeM {
			return r.usePooled(pooled)
		}
		return nil
	}
	type cand struct {
		cfg train.Config
		fit *train.Result
	}
	base := r.cfg.Train
	var cands []cand
	for _, k := range []string{head.Linear, head.MLP} {
		c := base
		c.Head = k
		cands = append(cands, cand{cfg: c})
	}
	choice := &AutoChoice{}
	if r.spatial != nil {
		c := base
		c.Head, c.Dropout, c.Spatial, c.Pool = head.Attention, AttnDropout, r.spatial, ""
		c.Epochs = cmp.Or(r.cfg.AttnEpochs, DefaultAttnEpochs)
		c.WeightDecay = AttnWeightDecay
		cands = append(cands, cand{cfg: c})
	}
	var pooled [3][]float32
	if r.spatial != nil && base.Pool != head.PoolGeM {
		for k := range pooled {
			pooled[k] = r.poolVectors(k)
		}
	}
	best := -1
	for i := range cands {
		c := &cands[i]
		x, vx, dim := r.sets[0].x, r.sets[1].x, r.dim
		if c.cfg.Pool == head.PoolGeM {
			c.cfg.Spatial = r.spatial
		} else if r.spatial != nil && c.cfg.Head != head.Attention {
			x, vx, dim = pooled[0], pooled[1], r.pooledDim
		}
		t0 := time.Now()
		fit, err := r.fitOne(ctx, c.cfg, x, vx, dim, "train "+c.cfg.Head)
		if err != nil {
			return fmt.Errorf("--head auto, %s head: %w", c.cfg.Head, err)
		}
		c.fit = fit
		choice.Candidates = append(choice.Candidates, AutoCandidate{Head: c.cfg.Head, ValMAP: fit.BestValMAP,
			BestEpoch: fit.BestEpoch, Seconds: time.Since(t0).Seconds()})
		r.log.Info("train: auto candidate", "head", c.cfg.Head, "val_map", fit.BestValMAP, "seconds", time.Since(t0).Seconds())
		if best < 0 || fit.BestValMAP > cands[best].fit.BestValMAP {
			best = i
		}
	}
	if r.spatial == nil {
		choice.Candidates = append(choice.Candidates, AutoCandidate{Head: head.Attention,
			Skipped: fmt.Sprintf("the cut %q has no spatial map", r.bb.FeatureNode)})
		if r.cfg.vectorOnly {
			choice.Candidates[len(choice.Candidates)-1].Skipped = "fine-tuning (--unfreeze) trains linear and mlp heads only"
		}
		if r.rows.m != nil {
			choice.Candidates[len(choice.Candidates)-1].Skipped = "--features holds pooled vectors, not spatial maps"
		}
	}
	w := cands[best]
	choice.Chosen = w.cfg.Head
	var others []string
	for i, c := range cands {
		if i != best {
			others = append(others, fmt.Sprintf("%s %.4f", c.cfg.Head, c.fit.BestValMAP))
		}
	}
	choice.Reason = fmt.Sprintf("%s has the highest validation mAP, %.4f (%s; %d validation images; ties keep the simpler head)",
		w.cfg.Head, w.fit.BestValMAP, strings.Join(others, ", "), r.split.Val)
	r.cfg.Train = w.cfg
	r.probe.Fit, r.probe.Auto = w.fit, choice
	if r.spatial != nil && w.cfg.Head != head.Attention && w.cfg.Pool != head.PoolGeM {
		if err := r.usePooled(pooled); err != nil {
			return err
		}
	}
	return nil
}

// usePooled switches the run from the spatial maps to pooled vectors (the bundle's
// backbone becomes the pooled graph).
func (r *run) usePooled(pooled [3][]float32) error {
	feat, err := r.bb.FeatureModel()
	if err != nil {
		return err
	}
	r.feat = feat
	for k := range r.sets {
		r.sets[k].x = pooled[k]
	}
	r.dim, r.spatial = r.pooledDim, nil
	r.bbInfo.FeatureDim, r.bbInfo.Pool = r.pooledDim, r.bb.Pool
	return nil
}

// fitOne trains one head configuration with the run's progress bar.
func (r *run) fitOne(ctx context.Context, tc train.Config, x, vx []float32, dim int, label string) (*train.Result, error) {
	cb, finish := r.headCallbacks(label)
	defer finish()
	if r.rows.m != nil {
		// --features: the training rows stream from the mapped file (x is empty).
		c := r.cfg
		c.Train = tc
		return r.fitRows(ctx, c, cb)
	}
	return train.Fit(ctx, tc, x, r.sets[0].y, vx, r.sets[1].y, dim, cb)
}

// scaleAttention multiplies the group-decoding weights and bias of output j by f[j].
func scaleAttention(h *headparams.Params, f []float64) {
	a := h.Attn
	for j, fj := range f {
		k, g := j/a.Group, j%a.Group
		for d := 0; d < a.Dim; d++ {
			i := (k*a.Dim+d)*a.Group + g
			a.Wg[i] = float32(float64(a.Wg[i]) * fj)
		}
		a.Bg[j] = float32(float64(a.Bg[j]) * fj)
	}
}
