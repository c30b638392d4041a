package finetune

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine"
	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/hparams"
	"github.com/multilabel/multilabel/internal/loop"
	"github.com/multilabel/multilabel/internal/memstat"
	"github.com/multilabel/multilabel/internal/progress"
	"github.com/multilabel/multilabel/loss"
	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/sampler"
)

// Config holds the fine-tuning hyper-parameters. Zero fields take the defaults of
// DefaultConfig, except WeightDecay, ClipNorm, WarmupEpochs, Patience and Views 0
// meaning off (Views 0 is 1).
type Config struct {
	// Unfreeze is the number of blocks from the end to train ("1", "2", ...) or "all".
	Unfreeze string `json:"unfreeze"`
	Epochs   int    `json:"epochs"`
	// BatchSize is the training batch (the step graph is compiled for it).
	BatchSize int `json:"batch_size"`
	// LR is the head's peak learning rate; the tail's is LR × TailFactor.
	LR           float64 `json:"lr"`
	TailFactor   float64 `json:"tail_factor"`
	WarmupEpochs float64 `json:"warmup_epochs"`
	WeightDecay  float64 `json:"weight_decay"`
	ClipNorm     float64 `json:"clip_norm"`
	// Loss is the loss kind (default bce); LossConfig overrides its parameters.
	Loss       string       `json:"loss"`
	LossConfig *loss.Config `json:"loss_config,omitempty"`
	// Augment, when set, trains on augmented views computed on the fly (the prefix runs
	// on each view); nil trains on the cached activations of the plain images.
	Augment *imageio.Augment `json:"augment,omitempty"`
	// Views is the number of augmented views of each image per epoch (default 1).
	Views int `json:"views,omitempty"`
	// Patience stops after this many epochs without a better validation mAP (0: never).
	Patience int `json:"patience,omitempty"`
	// TrainBN trains the tail's batch norms with batch statistics and updates their
	// running statistics; by default they are frozen (running statistics as constants,
	// scale and shift trained). With TrainBN an epoch's last incomplete batch is
	// dropped (batch statistics of a padded batch would be wrong).
	TrainBN bool `json:"train_bn,omitempty"`
	// EMA is the decay of the exponential moving average of the trained weights, per
	// step (0: off). With it on, validation, selection, the returned model and the test
	// logits use the averaged weights; the effective decay ramps up as
	// min(EMA, (1+t)/(10+t)).
	EMA  float64 `json:"ema,omitempty"`
	Seed uint64  `json:"seed"`
	// Sampler chooses each epoch's (each view's) visiting order (package sampler;
	// zero: uniform, the seeded permutation).
	Sampler sampler.Config `json:"sampler"`
	// Backend is the GoMLX backend of the training graph: "auto" (default: ONNX Runtime
	// when its library is found, else XLA when a PJRT plugin is found, else pure Go),
	// "onnx", "xla" or "go".
	Backend string `json:"backend,omitempty"`
	// Checkpoint, when set, is written (temp + rename) after every epoch; Resume
	// continues from it when it exists.
	Checkpoint string `json:"-"`
	Resume     bool   `json:"-"`
}

// DefaultConfig returns the recommended configuration: the last block, 3 epochs,
// batch 32, head LR 1e-3, tail LR ×0.1, half an epoch of warmup, weight decay 1e-4,
// gradient clipping at 5.
func DefaultConfig() Config {
	return Config{Unfreeze: "1", Epochs: 3, BatchSize: 32, LR: 1e-3, TailFactor: 0.1, WarmupEpochs: 0.5,
		WeightDecay: 1e-4, ClipNorm: 5, Loss: loss.BCE, Views: 1}
}

func (c Config) resolved() Config {
	d := DefaultConfig()
	c.Unfreeze = cmp.Or(c.Unfreeze, d.Unfreeze)
	c.Epochs = cmp.Or(c.Epochs, d.Epochs)
	c.BatchSize = cmp.Or(c.BatchSize, d.BatchSize)
	c.LR = cmp.Or(c.LR, d.LR)
	c.TailFactor = cmp.Or(c.TailFactor, d.TailFactor)
	c.Loss = cmp.Or(c.Loss, d.Loss)
	if c.Views <= 0 {
		c.Views = 1
	}
	c.Sampler = c.Sampler.Resolved()
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	c = c.resolved()
	common := hparams.Common{Epochs: c.Epochs, BatchSize: c.BatchSize, Patience: c.Patience, LR: c.LR,
		WarmupEpochs: c.WarmupEpochs, WeightDecay: c.WeightDecay, ClipNorm: c.ClipNorm,
		Checkpoint: c.Checkpoint, Resume: c.Resume}
	if err := common.Validate("finetune"); err != nil {
		return err
	}
	if !(c.TailFactor > 0) || !hparams.Finite(c.TailFactor) {
		return fmt.Errorf("finetune: tail learning-rate factor %v must be positive", c.TailFactor)
	}
	if !(c.EMA >= 0 && c.EMA < 1) {
		return fmt.Errorf("finetune: EMA decay %v must be in [0, 1)", c.EMA)
	}
	if _, err := ParseBackend(c.Backend); err != nil {
		return err
	}
	if c.Unfreeze != "all" {
		if _, err := CutFor([]backbone.Block{{}}, c.Unfreeze); err != nil {
			return err
		}
	}
	if err := c.Sampler.Validate(); err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	lc := c.lossConfig()
	return lc.Validate(len(lc.PosWeight))
}

// lossConfig returns the loss configuration to use.
func (c Config) lossConfig() loss.Config { return hparams.LossConfig(c.Loss, c.LossConfig) }

// LearningRate is the schedule's multiplier of the peak learning rates at step (0-based)
// of total: linear warmup over warmup steps, then cosine decay to 0.
func LearningRate(step, total, warmup int) float64 {
	if total <= 0 {
		return 1
	}
	warmup = min(warmup, total-1)
	if step < warmup {
		return float64(step+1) / float64(warmup)
	}
	return 0.5 * (1 + math.Cos(math.Pi*float64(step-warmup)/float64(total-warmup)))
}

// Data holds the images and labels (1, 0, -1 per class) to fine-tune on. Val may be
// empty (then the last epoch is kept).
type Data struct {
	Train  []string
	TrainY [][]int8
	Val    []string
	ValY   [][]int8
	// Test, when set, are images the fine-tuned model scores at the end
	// (Result.TestLogits); they take no part in training or model selection.
	Test []string `json:"-"`
}

// Options carry what is not a hyper-parameter.
type Options struct {
	// Engine opens the prefix engine (ONNX Runtime when found, see engine/auto).
	Engine auto.Options
	// Progress receives progress bars; nil is quiet.
	Progress io.Writer
	// Logger receives informational lines; nil means slog.Default().
	Logger *slog.Logger
	// OnEpoch is called after every epoch.
	OnEpoch func(Epoch)
}

// Epoch is one line of the fine-tuning history. Epoch 0 is the starting point (the
// head trained on frozen features).
type Epoch struct {
	Epoch     int     `json:"epoch"`
	TrainLoss float64 `json:"train_loss"`
	ValMAP    float64 `json:"val_map"`
	LRHead    float64 `json:"lr_head"`
	LRTail    float64 `json:"lr_tail"`
	Seconds   float64 `json:"seconds"`
	// PrefixSeconds is the part of Seconds spent computing prefix activations
	// (augmented views only).
	PrefixSeconds float64 `json:"prefix_seconds,omitempty"`
	ImagesPerSec  float64 `json:"images_per_sec"` // training steps only
	Best          bool    `json:"best,omitempty"`
}

// Result is a fine-tuned backbone feature graph and head.
type Result struct {
	// FeatureModel is the input feature graph with the trained tail weights written
	// back (same nodes, same names); Head the trained head (same standardisation).
	FeatureModel []byte      `json:"-"`
	Head         head.Params `json:"-"`
	// Block is the first trained block, Cut the tensor where the tail starts.
	Block string `json:"block"`
	Cut   string `json:"cut"`
	// TailParams and HeadParams count the trainable parameters.
	TailParams int64   `json:"tail_params"`
	HeadParams int64   `json:"head_params"`
	Lowered    int     `json:"lowered_ops"`
	History    []Epoch `json:"history"`
	BestEpoch  int     `json:"best_epoch"` // 0: fine-tuning did not beat the start on validation
	BestValMAP float64 `json:"best_val_map"`
	// PrefixSeconds is the time of the cached prefix pass (activations of plain images).
	PrefixSeconds float64 `json:"prefix_seconds"`
	Backend       string  `json:"backend"`
	// BackendReason says why Backend was chosen (for --backend auto: what was found).
	BackendReason string `json:"backend_reason,omitempty"`
	Engine        string `json:"engine"`
	Resumed       bool   `json:"resumed,omitempty"`
	// PeakRSSMB is the process's peak resident memory at the end of the run, in MiB
	// (Linux; 0 where no figure is available): the memory the fine-tuning needed, with
	// whatever the process held before.
	PeakRSSMB float64 `json:"peak_rss_mb,omitempty"`
	Config    Config  `json:"config"`
	// ValLogits and TestLogits are the fine-tuned model's logits (row-major, one row of
	// classes per usable image) on Data.Val and Data.Test; ValOK and TestOK say which
	// images were usable (a false entry has no row).
	ValLogits  []float32 `json:"-"`
	TestLogits []float32 `json:"-"`
	ValOK      []bool    `json:"-"`
	TestOK     []bool    `json:"-"`
}

// Run fine-tunes the last blocks of featureModel (backbone.FeatureModel bytes; spec is
// its preprocessing) together with head h (trained on the frozen features first, e.g.
// by train.Fit) on data.
func Run(ctx context.Context, featureModel []byte, spec imageio.Spec, h head.Params, data Data, cfg Config, opt Options) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("finetune: internal error: %v", r)
		}
	}()
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.resolved()
	if err := h.Validate(); err != nil {
		return nil, fmt.Errorf("finetune: head: %w", err)
	}
	if len(data.Train) == 0 || len(data.Train) != len(data.TrainY) || len(data.Val) != len(data.ValY) {
		return nil, fmt.Errorf("finetune: %d training images for %d label rows, %d validation images for %d label rows",
			len(data.Train), len(data.TrainY), len(data.Val), len(data.ValY))
	}
	for k, rows := range [][][]int8{data.TrainY, data.ValY} {
		for i, r := range rows {
			if len(r) != h.Out {
				return nil, fmt.Errorf("finetune: %s label row %d has %d values, want %d", []string{"training", "validation"}[k], i, len(r), h.Out)
			}
		}
	}
	choice, err := BackendWith(cfg.Backend, opt.Engine.ORTLib)
	if err != nil {
		return nil, err
	}
	bb, err := backbone.LoadBytes(featureModel, "feature model", backbone.Options{FeatureNode: backbone.FeatureOutput, Spec: &spec})
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	blk, err := CutFor(bb.Blocks(), cfg.Unfreeze)
	if err != nil {
		return nil, err
	}
	shape := bb.TensorShape(blk.Cut)
	if len(shape) < 2 {
		return nil, fmt.Errorf("%w: shape of %q unknown", ErrBadCut, blk.Cut)
	}
	sp, err := SplitModel(featureModel, blk.Cut, shape[1:])
	if err != nil {
		return nil, err
	}
	lc := cfg.lossConfig()
	if lc.Kind == loss.Weighted && lc.PosWeight == nil {
		lc.PosWeight = loss.PosWeights(data.TrainY, h.Out, lc.MaxPosWeight)
	}
	if lc.Kind == loss.DB && lc.ClassCounts == nil {
		lc.ClassCounts, lc.ClassKnown = loss.ClassCounts(data.TrainY, h.Out)
	}
	if err := lc.Validate(h.Out); err != nil {
		return nil, err
	}
	batch := min(cfg.BatchSize, len(data.Train))
	net, err := NewNet(choice.Backend, sp, h, NetOptions{Batch: batch, Loss: lc, WeightDecay: cfg.WeightDecay, ClipNorm: cfg.ClipNorm, Shape: bb.TensorShape, TrainBN: cfg.TrainBN})
	if err != nil {
		return nil, err
	}
	defer net.Close()
	res = &Result{Block: blk.Name, Cut: blk.Cut, Lowered: net.Lowered, Backend: choice.Desc, BackendReason: choice.Reason, Config: cfg}
	res.TailParams, res.HeadParams = net.NumParams()
	log.Info("finetune: tail", "block", blk.Name, "cut", blk.Cut, "shape", shape[1:], "tail_params", res.TailParams,
		"head_params", res.HeadParams, "lowered_ops", net.Lowered, "backend", choice.Desc)

	pre := &prefix{spec: spec, out: net.inLen}
	if sp.Prefix != nil {
		eng, err := auto.Open(sp.Prefix, opt.Engine)
		if err != nil {
			return nil, fmt.Errorf("finetune: prefix engine: %w", err)
		}
		defer eng.Close()
		pre.eng = eng
		res.Engine = eng.Name()
	}

	// Activations of the plain images: validation always, training unless augmented.
	t0 := time.Now()
	var trX []float32
	trY, trM := loss.TargetsAndMask(data.TrainY, h.Out)
	trOK := make([]bool, len(data.Train))
	if cfg.Augment == nil {
		if trX, trOK, err = pre.run(ctx, data.Train, nil, 0, 0, opt.Progress, "prefix train"); err != nil {
			return nil, err
		}
	}
	vaX, vaOK, err := pre.run(ctx, data.Val, nil, 0, 0, opt.Progress, "prefix val")
	if err != nil {
		return nil, err
	}
	var vaY [][]int8
	var vaRows []float32
	for i, ok := range vaOK {
		if ok {
			vaY = append(vaY, data.ValY[i])
			vaRows = append(vaRows, vaX[i*net.inLen:(i+1)*net.inLen]...)
		}
	}
	vaX = vaRows
	res.PrefixSeconds = time.Since(t0).Seconds()
	evaluate := func(st *State) (float64, error) {
		if len(vaY) == 0 {
			return 0, nil
		}
		l, err := net.Logits(st, vaX, len(vaY))
		if err != nil {
			return 0, err
		}
		scores := make([][]float32, len(vaY))
		for i := range scores {
			scores[i] = l[i*h.Out : (i+1)*h.Out]
		}
		m, _, _ := metric.MeanAP(scores, vaY)
		if math.IsNaN(m) {
			m = 0
		}
		return m, nil
	}

	n := len(data.Train)
	stepsPerView := (n + batch - 1) / batch
	smp, total, err := epochSampler(cfg, data.TrainY, batch)
	if err != nil {
		return nil, err
	}
	warmup := int(math.Round(cfg.WarmupEpochs * float64(stepsPerView*cfg.Views)))
	fp := fingerprint(cfg, blk.Cut, h, data)
	posw := lc.PosWeight
	if posw == nil {
		posw = make([]float32, h.Out)
		for i := range posw {
			posw[i] = 1
		}
	}

	var ck *checkpoint
	if cfg.Resume {
		var ok bool
		ck, ok, err = loop.Resume("finetune", cfg.Checkpoint, loadCheckpoint, errNoCheckpoint,
			func(c *checkpoint) uint64 { return c.Fingerprint }, fp)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := ck.check(net); err != nil {
				return nil, fmt.Errorf("finetune: checkpoint %s: %w", cfg.Checkpoint, err)
			}
			res.Resumed = true
		}
	}
	if ck == nil {
		st := net.InitState()
		m0, err := evaluate(st)
		if err != nil {
			return nil, err
		}
		e0 := Epoch{Epoch: 0, ValMAP: m0, Best: true}
		ck = &checkpoint{Version: checkpointVersion, Fingerprint: fp, State: st, Best: cloneState(st), BestMAP: m0, History: []Epoch{e0}}
		if cfg.EMA > 0 {
			ck.EMA = cloneState(st).Params
		}
		if opt.OnEpoch != nil {
			opt.OnEpoch(e0)
		}
	}
	st := ck.State
	var bar *progress.Bar
	if opt.Progress != nil {
		bar = progress.New(opt.Progress, "fine-tune", int64(total), "steps")
	}
	bar.Add(st.Step)
	xb := make([]float32, batch*net.inLen)
	yb := make([]float32, batch*h.Out)
	mb := make([]float32, batch*h.Out)
	// The shared epoch loop keeps the selection bookkeeping, starting from epoch 0 (the
	// head trained on frozen features) as the best so far; the checkpoint mirrors it.
	// Without a validation set every epoch counts as the best (the last one is kept).
	ls := loop.State{Epoch: ck.Epoch, HasBest: true, BestEpoch: ck.BestEpoch, BestScore: ck.BestMAP,
		SinceBest: ck.SinceBest, Stopped: ck.Stopped}
	var e Epoch
	err = loop.Run(ctx, loop.Config{Epochs: cfg.Epochs, Patience: cfg.Patience, UnscoredIsBest: true}, &ls, loop.Hooks{
		Epoch: func(ctx context.Context, epoch int) (loop.Score, error) {
			start := time.Now()
			var prefixSec, stepSec, lossSum float64
			var lossN, imgs int
			var lrH, lrT float64
			for v := 0; v < cfg.Views; v++ {
				x, ok := trX, trOK
				if cfg.Augment != nil {
					tp := time.Now()
					var err error
					if x, ok, err = pre.run(ctx, data.Train, cfg.Augment, cfg.Seed, (epoch-1)*cfg.Views+v, nil, ""); err != nil {
						return loop.Score{}, err
					}
					prefixSec += time.Since(tp).Seconds()
				}
				perm := smp.Epoch(uint64((epoch-1)*cfg.Views + v))
				var idx []int
				for _, i := range perm {
					if ok[i] {
						idx = append(idx, i)
					}
				}
				if cfg.TrainBN && sp.BatchNorms > 0 {
					idx = idx[:len(idx)/batch*batch]
				}
				for lo := 0; lo < len(idx); lo += batch {
					if err := ctx.Err(); err != nil {
						return loop.Score{}, err
					}
					rows := idx[lo:min(lo+batch, len(idx))]
					for r, i := range rows {
						copy(xb[r*net.inLen:(r+1)*net.inLen], x[i*net.inLen:(i+1)*net.inLen])
						copy(yb[r*h.Out:(r+1)*h.Out], trY[i*h.Out:(i+1)*h.Out])
						copy(mb[r*h.Out:(r+1)*h.Out], trM[i*h.Out:(i+1)*h.Out])
					}
					k := len(rows)
					mult := LearningRate(st.Step, total, warmup)
					lrH, lrT = cfg.LR*mult, cfg.LR*cfg.TailFactor*mult
					ts := time.Now()
					l, err := net.Step(st, xb[:k*net.inLen], yb[:k*h.Out], mb[:k*h.Out], posw, k, lrT, lrH)
					if err != nil {
						return loop.Score{}, fmt.Errorf("finetune: epoch %d: %w", epoch, err)
					}
					stepSec += time.Since(ts).Seconds()
					if ck.EMA != nil {
						updateEMA(ck.EMA, st.Params, cfg.EMA, st.Step)
					}
					lossSum += l * float64(k)
					lossN += k
					imgs += k
					bar.Add(1)
				}
			}
			m, err := evaluate(emaView(st, ck.EMA))
			if err != nil {
				return loop.Score{}, err
			}
			e = Epoch{Epoch: epoch, ValMAP: m, LRHead: lrH, LRTail: lrT, PrefixSeconds: prefixSec,
				Seconds: time.Since(start).Seconds()}
			if lossN > 0 {
				e.TrainLoss = lossSum / float64(lossN)
			}
			if stepSec > 0 {
				e.ImagesPerSec = float64(imgs) / stepSec
			}
			return loop.Score{Value: m, OK: len(vaY) > 0}, nil
		},
		Best: func(epoch int) error {
			ck.Best = cloneState(emaView(st, ck.EMA))
			e.Best = true
			return nil
		},
		End: func(epoch int, best bool, ls loop.State) error {
			ck.Epoch, ck.BestEpoch, ck.BestMAP, ck.SinceBest, ck.Stopped = ls.Epoch, ls.BestEpoch, ls.BestScore, ls.SinceBest, ls.Stopped
			ck.History = append(ck.History, e)
			bar.SetExtra(fmt.Sprintf("epoch %d loss %.4f val mAP %.4f", epoch, e.TrainLoss, e.ValMAP))
			if cfg.Checkpoint != "" {
				if err := saveCheckpoint(cfg.Checkpoint, ck); err != nil {
					return err
				}
			}
			if opt.OnEpoch != nil {
				opt.OnEpoch(e)
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	bar.Finish()
	res.History, res.BestEpoch, res.BestValMAP = ck.History, ck.BestEpoch, ck.BestMAP
	res.Head = net.Head(ck.Best)
	if res.FeatureModel, err = sp.WriteBack(net.TailWeights(ck.Best)); err != nil {
		return nil, err
	}
	// The kept model's logits on validation (activations already computed) and test.
	res.ValOK = vaOK
	if len(vaY) > 0 {
		if res.ValLogits, err = net.Logits(ck.Best, vaX, len(vaY)); err != nil {
			return nil, err
		}
	}
	if len(data.Test) > 0 {
		teX, teOK, err := pre.run(ctx, data.Test, nil, 0, 0, opt.Progress, "prefix test")
		if err != nil {
			return nil, err
		}
		var rows []float32
		k := 0
		for i, ok := range teOK {
			if ok {
				rows = append(rows, teX[i*net.inLen:(i+1)*net.inLen]...)
				k++
			}
		}
		res.TestOK = teOK
		if k > 0 {
			if res.TestLogits, err = net.Logits(ck.Best, rows, k); err != nil {
				return nil, err
			}
		}
	}
	res.PeakRSSMB = memstat.PeakRSSMB()
	return res, nil
}

// prefix computes activations at the cut: the prefix engine on (augmented) images, or
// the image tensors themselves when the whole network trains.
type prefix struct {
	eng  engine.Engine
	spec imageio.Spec
	out  int // values per image at the cut
}

// run returns len(paths)×out activations and which images were usable.
func (p *prefix) run(ctx context.Context, paths []string, aug *imageio.Augment, seed uint64, epoch int, w io.Writer, label string) ([]float32, []bool, error) {
	x := make([]float32, len(paths)*p.out)
	ok := make([]bool, len(paths))
	if len(paths) == 0 {
		return x, ok, nil
	}
	var bar *progress.Bar
	if w != nil {
		bar = progress.New(w, label, int64(len(paths)), "images")
		defer bar.Finish()
	}
	l := imageio.NewLoader(ctx, paths, p.spec, imageio.LoaderOptions{BatchSize: imageio.DefaultBatchSize, Augment: aug, Seed: seed, Epoch: epoch})
	defer l.Close()
	tl := p.spec.TensorLen()
	for {
		b, err := l.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("finetune: loading images: %w", err)
		}
		var out []float32
		if p.eng == nil {
			out = b.Data[:b.N*tl]
		} else if out, err = p.eng.Run(ctx, b.Data[:b.N*tl], b.N); err != nil {
			l.Release(b)
			return nil, nil, fmt.Errorf("finetune: prefix: %w", err)
		}
		if len(out) != b.N*p.out {
			l.Release(b)
			return nil, nil, fmt.Errorf("finetune: prefix gave %d values for %d images of %d", len(out), b.N, p.out)
		}
		copy(x[b.Start*p.out:], out)
		for i, e := range b.Errs {
			ok[b.Start+i] = e == nil
		}
		bar.Add(b.N)
		l.Release(b)
	}
	return x, ok, nil
}

// fingerprint hashes what determines a run (a resume must match it).
func fingerprint(cfg Config, cut string, h head.Params, d Data) uint64 {
	f := fnv.New64a()
	c := cfg
	c.Checkpoint, c.Resume = "", false
	js, _ := json.Marshal(struct {
		C   Config
		Cut string
		H   head.Params
		D   Data
	}{c, cut, h, d})
	f.Write(js)
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], uint64(len(d.Train)))
	f.Write(buf[:])
	return f.Sum64()
}
