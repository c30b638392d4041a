package train_test

import (
	"context"
	"fmt"

	"github.com/multilabel/multilabel/train"
)

// Train a linear probe on in-memory features and use the plain-Go head it returns.
func ExampleFit() {
	// Four feature rows of dim 2, two labels: label 0 follows feature 0, label 1
	// follows feature 1; -1 marks an unknown label (it adds nothing to the loss).
	x := []float32{1, 0, 0, 1, 1, 1, 0, 0}
	y := [][]int8{{1, 0}, {0, 1}, {1, -1}, {0, 0}}

	cfg := train.DefaultConfig() // linear head, BCE, AdamW, warmup+cosine, EMA
	cfg.Epochs, cfg.BatchSize, cfg.LR, cfg.Seed = 50, 4, 0.05, 1
	res, err := train.Fit(context.Background(), cfg, x, y, x, y, 2, train.Callbacks{
		OnEpoch: func(e train.Epoch) { /* e.TrainLoss, e.ValMAP, e.LR, ... for a progress bar */ },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	scores := res.Head.Scores([]float32{1, 0}, 1) // pure Go, no GoMLX needed
	fmt.Printf("%s head, val mAP %.2f, label 0 scores higher than label 1: %v\n",
		res.Head.Kind, res.BestValMAP, scores[0] > scores[1])
	// Output: linear head, val mAP 1.00, label 0 scores higher than label 1: true
}
