package cnn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/multilabel/multilabel/loss"
)

// TrainConfig sets a training run. Training is AdamW with a short linear warm-up and a
// cosine decay, over shuffled mini-batches (the last incomplete batch of an epoch is
// dropped, so every step has the same shape).
type TrainConfig struct {
	// From is the first trained stage; the caller passes activations entering it (Run
	// with Activation) and the stages before it stay frozen. 0 trains everything.
	From        int
	Epochs      int
	Batch       int
	LR          float64
	WeightDecay float64
	Seed        uint64
	// Loss is the multi-label loss (TrainMultiLabel only).
	Loss loss.Config
	// OnEpoch, when set, is called after each epoch with the mean training loss.
	OnEpoch func(epoch int, meanLoss float64)
}

func (c TrainConfig) validate(n int) error {
	switch {
	case c.From < 0 || c.From >= NumStages:
		return fmt.Errorf("cnn: train: from stage %d out of range 0..%d", c.From, NumStages-1)
	case c.Epochs < 1:
		return fmt.Errorf("cnn: train: %d epochs, want >= 1", c.Epochs)
	case c.Batch < 1:
		return fmt.Errorf("cnn: train: batch %d, want >= 1", c.Batch)
	case !(c.LR > 0):
		return fmt.Errorf("cnn: train: learning rate %v, want > 0", c.LR)
	case n < 1:
		return errors.New("cnn: train: no training samples")
	}
	return nil
}

// Head is a multi-label linear head on the pooled features: logits = W f + B with W
// [Labels, FeatureDim].
type Head struct {
	Labels, Dim int
	W, B        []float32
}

// NewHead returns a zero-bias head with small random weights.
func NewHead(labels, dim int, seed uint64) *Head {
	rng := rand.New(rand.NewPCG(seed, 0x4ead))
	h := &Head{Labels: labels, Dim: dim, W: make([]float32, labels*dim), B: make([]float32, labels)}
	std := math.Sqrt(1 / float64(dim))
	for i := range h.W {
		h.W[i] = float32(rng.NormFloat64() * std * 0.1)
	}
	return h
}

// lossFn builds the scalar loss from a batch and the trainable parameters.
type lossFn func(x, y, mask *Node, p []*Node) *Node

// TrainSource trains the whole network (from cfg.From) and its classifier with softmax
// cross-entropy on single-label classes.
func (n *Net) TrainSource(ctx context.Context, x []float32, classes []int, cfg TrainConfig) error {
	k := n.Arch.Classes
	y := make([]float32, len(classes)*k)
	for i, c := range classes {
		if c < 0 || c >= k {
			return fmt.Errorf("cnn: train: sample %d has class %d, want 0..%d", i, c, k-1)
		}
		y[i*k+c] = 1
	}
	lo := stageParams[cfg.From][0]
	trainable := n.Params[lo:]
	fn := func(xn, yn, _ *Node, p []*Node) *Node {
		full := make([]*Node, len(n.Params))
		copy(full[lo:], p)
		r := stageParams[NumStages]
		logits := linear(forward(xn, full, cfg.From), full[r[0]], full[r[0]+1])
		return Neg(ReduceAllMean(ReduceSum(Mul(yn, LogSoftmax(logits, -1)), -1)))
	}
	return n.train(ctx, x, len(classes), y, nil, k, trainable, fn, cfg)
}

// TrainMultiLabel trains stages cfg.From.. of the network (the classifier is not used)
// together with head, with cfg.Loss on truth (1 positive, 0 negative, -1 unknown).
func (n *Net) TrainMultiLabel(ctx context.Context, x []float32, truth [][]int8, head *Head, cfg TrainConfig) error {
	if head.Dim != n.Arch.FeatureDim() {
		return fmt.Errorf("cnn: head has input %d, network features %d", head.Dim, n.Arch.FeatureDim())
	}
	if err := cfg.Loss.Validate(head.Labels); err != nil {
		return err
	}
	for i, t := range truth {
		if len(t) != head.Labels {
			return fmt.Errorf("cnn: sample %d has %d labels, want %d", i, len(t), head.Labels)
		}
	}
	targets, mask := loss.TargetsAndMask(truth, head.Labels)
	lo, hi := stageParams[cfg.From][0], stageParams[NumStages][0]
	hp := []Param{{Name: "head.w", Dims: []int{head.Labels, head.Dim}, Data: head.W},
		{Name: "head.b", Dims: []int{head.Labels}, Data: head.B}}
	trainable := append(slices.Clone(n.Params[lo:hi]), hp...)
	fn := func(xn, yn, mn *Node, p []*Node) *Node {
		full := make([]*Node, len(n.Params))
		copy(full[lo:], p[:hi-lo])
		logits := linear(forward(xn, full, cfg.From), p[hi-lo], p[hi-lo+1])
		return loss.Masked(cfg.Loss, logits, yn, mn, nil)
	}
	if err := n.train(ctx, x, len(truth), targets, mask, head.Labels, trainable, fn, cfg); err != nil {
		return err
	}
	copy(n.Params[lo:hi], trainable[:hi-lo])
	head.W, head.B = trainable[hi-lo].Data, trainable[hi-lo+1].Data
	return nil
}

// PredictMultiLabel returns sigmoid scores [count*Labels] for inputs entering stage from.
func (n *Net) PredictMultiLabel(x []float32, count, from int, head *Head, batch int) ([]float32, error) {
	f, err := n.Run(x, count, from, NumStages, Features, batch)
	if err != nil {
		return nil, err
	}
	return head.Scores(f, count), nil
}

// Scores applies the head and a sigmoid to count feature rows.
func (h *Head) Scores(f []float32, count int) []float32 {
	out := make([]float32, count*h.Labels)
	for i := 0; i < count; i++ {
		row := f[i*h.Dim : (i+1)*h.Dim]
		for j := 0; j < h.Labels; j++ {
			s := float64(h.B[j])
			w := h.W[j*h.Dim : (j+1)*h.Dim]
			for k, v := range row {
				s += float64(w[k]) * float64(v)
			}
			out[i*h.Labels+j] = float32(1 / (1 + math.Exp(-s)))
		}
	}
	return out
}

const (
	adamB1  = 0.9
	adamB2  = 0.999
	adamEps = 1e-8
)

// train runs AdamW on trainable (updated in place) for loss fn.
func (n *Net) train(ctx context.Context, x []float32, count int, y, mask []float32, yLen int,
	trainable []Param, fn lossFn, cfg TrainConfig) error {
	if err := cfg.validate(count); err != nil {
		return err
	}
	in := n.Arch.StageInputShape(cfg.From)
	inLen := prod(in)
	if len(x) != count*inLen {
		return fmt.Errorf("cnn: train: %d input values for %d samples of shape %v", len(x), count, in)
	}
	batch := min(cfg.Batch, count)
	stepsPerEpoch := count / batch
	total := stepsPerEpoch * cfg.Epochs
	warm := max(1, total/20)
	np := len(trainable)
	return catch("train", func() error {
		step, err := NewExec(backend(), func(inputs []*Node) []*Node {
			xn, yn, mn, lr, bc := inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]
			p := inputs[5 : 5+np]
			m := inputs[5+np : 5+2*np]
			v := inputs[5+2*np : 5+3*np]
			l := fn(xn, yn, mn, p)
			grads := Gradient(l, p...)
			out := make([]*Node, 0, 1+3*np)
			out = append(out, l)
			newP := make([]*Node, np)
			newM := make([]*Node, np)
			newV := make([]*Node, np)
			for i := range p {
				g := grads[i]
				newM[i] = Add(MulScalar(m[i], adamB1), MulScalar(g, 1-adamB1))
				newV[i] = Add(MulScalar(v[i], adamB2), MulScalar(Square(g), 1-adamB2))
				upd := Div(Mul(newM[i], bc), AddScalar(Sqrt(newV[i]), adamEps))
				if len(trainable[i].Dims) > 1 && cfg.WeightDecay > 0 {
					upd = Add(upd, MulScalar(p[i], cfg.WeightDecay))
				}
				newP[i] = Sub(p[i], Mul(upd, lr))
			}
			out = append(out, newP...)
			out = append(out, newM...)
			return append(out, newV...)
		})
		if err != nil {
			return err
		}
		defer step.Finalize()
		params := make([]*tensors.Tensor, np)
		ms := make([]*tensors.Tensor, np)
		vs := make([]*tensors.Tensor, np)
		for i, p := range trainable {
			params[i] = tensorOf(p)
			ms[i] = tensors.FromFlatDataAndDimensions(make([]float32, len(p.Data)), p.Dims...)
			vs[i] = tensors.FromFlatDataAndDimensions(make([]float32, len(p.Data)), p.Dims...)
		}
		if mask == nil {
			mask = make([]float32, len(y))
			for i := range mask {
				mask[i] = 1
			}
		}
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x7a1))
		order := make([]int, count)
		for i := range order {
			order[i] = i
		}
		xb := make([]float32, batch*inLen)
		yb := make([]float32, batch*yLen)
		mb := make([]float32, batch*yLen)
		t := 0
		for epoch := 0; epoch < cfg.Epochs; epoch++ {
			rng.Shuffle(count, func(i, j int) { order[i], order[j] = order[j], order[i] })
			sum := 0.0
			for s := 0; s < stepsPerEpoch; s++ {
				if err := ctx.Err(); err != nil {
					return err
				}
				for b := 0; b < batch; b++ {
					i := order[s*batch+b]
					copy(xb[b*inLen:(b+1)*inLen], x[i*inLen:(i+1)*inLen])
					copy(yb[b*yLen:(b+1)*yLen], y[i*yLen:(i+1)*yLen])
					copy(mb[b*yLen:(b+1)*yLen], mask[i*yLen:(i+1)*yLen])
				}
				t++
				lr := cfg.LR * 0.5 * (1 + math.Cos(math.Pi*float64(t-1)/float64(total)))
				if t <= warm {
					lr = cfg.LR * float64(t) / float64(warm)
				}
				bc := math.Sqrt(1-math.Pow(adamB2, float64(t))) / (1 - math.Pow(adamB1, float64(t)))
				args := make([]any, 0, 5+3*np)
				args = append(args,
					tensors.FromFlatDataAndDimensions(slices.Clone(xb), append([]int{batch}, in...)...),
					tensors.FromFlatDataAndDimensions(slices.Clone(yb), batch, yLen),
					tensors.FromFlatDataAndDimensions(slices.Clone(mb), batch, yLen),
					tensors.FromScalar(float32(lr)), tensors.FromScalar(float32(bc)))
				for _, p := range params {
					args = append(args, p)
				}
				for _, p := range ms {
					args = append(args, p)
				}
				for _, p := range vs {
					args = append(args, p)
				}
				res, err := step.Exec(args...)
				if err != nil {
					return err
				}
				lv, err := tensors.CopyFlatData[float32](res[0])
				if err != nil {
					return err
				}
				if math.IsNaN(float64(lv[0])) {
					return fmt.Errorf("epoch %d step %d: loss is NaN", epoch+1, s+1)
				}
				sum += float64(lv[0])
				copy(params, res[1:1+np])
				copy(ms, res[1+np:1+2*np])
				copy(vs, res[1+2*np:1+3*np])
			}
			if cfg.OnEpoch != nil {
				cfg.OnEpoch(epoch+1, sum/float64(stepsPerEpoch))
			}
		}
		for i := range trainable {
			d, err := tensors.CopyFlatData[float32](params[i])
			if err != nil {
				return err
			}
			trainable[i] = Param{Name: trainable[i].Name, Dims: trainable[i].Dims, Data: d}
		}
		return nil
	})
}
