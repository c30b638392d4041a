package demo

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/multilabel/multilabel/internal/synth"
	"github.com/multilabel/multilabel/internal/synth/cnn"
)

// PretrainConfig sets the source-task pretraining of the demo backbone.
type PretrainConfig struct {
	// Arch is the network; Classes is set to the synth source classes.
	Arch cnn.Arch
	// Images per epoch; every epoch draws fresh images from the world.
	Images int
	Epochs int
	Batch  int
	LR     float64
	Seed   uint64
	// Log receives progress lines (nil: slog.Default()).
	Log *slog.Logger
}

// DefaultPretrain is the configuration of the embedded backbone (EmbeddedBackbone).
func DefaultPretrain() PretrainConfig {
	return PretrainConfig{
		Arch:   cnn.Arch{Size: 24, Widths: [3]int{8, 16, 32}, Classes: len(synth.SourceClasses())},
		Images: 4000, Epochs: 6, Batch: 64, LR: 3e-3, Seed: 1,
	}
}

// PretrainResult is a pretrained source network and its held-out source accuracy.
type PretrainResult struct {
	Net      *cnn.Net
	ONNX     []byte
	Accuracy float64
	Elapsed  time.Duration
}

// Pretrain trains the CNN on the synth source task (single label, softmax) and exports
// it as an ONNX backbone. The result is a deterministic function of cfg.
func Pretrain(ctx context.Context, cfg PretrainConfig) (*PretrainResult, error) {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	cfg.Arch.Classes = len(synth.SourceClasses())
	start := time.Now()
	net, err := cnn.New(cfg.Arch, cfg.Seed)
	if err != nil {
		return nil, err
	}
	world := synth.Config{Size: cfg.Arch.Size}
	for epoch := 0; epoch < cfg.Epochs; epoch++ {
		src := synth.Source(world, cfg.Images, cfg.Seed*1000+uint64(epoch))
		x := synth.Tensors(src)
		cls := make([]int, len(src))
		for i, s := range src {
			cls[i] = s.Class
		}
		// One pass over fresh images per epoch, with the learning rate following one
		// cosine cycle per epoch, its peak decaying as epochs advance.
		lr := cfg.LR / (1 + float64(epoch)/2)
		err := net.TrainSource(ctx, x, cls, cnn.TrainConfig{Epochs: 1, Batch: cfg.Batch, LR: lr,
			WeightDecay: 1e-4, Seed: cfg.Seed + uint64(epoch),
			OnEpoch: func(_ int, l float64) {
				log.Info("pretrain", "epoch", epoch+1, "of", cfg.Epochs, "loss", fmt.Sprintf("%.4f", l),
					"elapsed", time.Since(start).Round(time.Second))
			}})
		if err != nil {
			return nil, fmt.Errorf("demo: pretrain epoch %d: %w", epoch+1, err)
		}
	}
	val := synth.Source(world, 1000, cfg.Seed*1000+999)
	logits, err := net.Run(synth.Tensors(val), len(val), 0, cnn.NumStages, cnn.Logits, 100)
	if err != nil {
		return nil, err
	}
	k := cfg.Arch.Classes
	ok := 0
	for i, s := range val {
		best := 0
		for c := 1; c < k; c++ {
			if logits[i*k+c] > logits[i*k+best] {
				best = c
			}
		}
		if best == s.Class {
			ok++
		}
	}
	acc := float64(ok) / float64(len(val))
	doc := fmt.Sprintf("multilabel demo backbone: residual CNN %v pretrained on the synth source task "+
		"(%d classes, %d epochs x %d fresh images, seed %d); held-out source accuracy %.3f",
		cfg.Arch.Widths, k, cfg.Epochs, cfg.Images, cfg.Seed, acc)
	data, err := net.ExportONNX(doc)
	if err != nil {
		return nil, err
	}
	return &PretrainResult{Net: net, ONNX: data, Accuracy: acc, Elapsed: time.Since(start)}, nil
}
