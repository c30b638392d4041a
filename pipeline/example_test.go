package pipeline_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/pipeline"
	"github.com/multilabel/multilabel/train"
)

// Train a head from a label file and a backbone, and write a bundle. The backbone here
// is a tiny stand-in (channel means) and the images are solid colours; with a real
// backbone and data this is what `multilabel train` runs.
func ExampleTrain() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	// 120 solid-colour images labelled with the colour channels that are on, and a
	// backbone file with its preprocessing in a sidecar JSON file.
	labels, backbone, err := modeltest.WriteDataset(dir, 120, 1)
	if err != nil {
		log.Fatal(err)
	}

	cfg := pipeline.TrainConfig{
		Data:     labels,
		Backbone: backbone,
		Out:      filepath.Join(dir, "colors.mlb"),
		Engine:   "go",
		NoCache:  true,
		Seed:     1,
		Train:    train.DefaultConfig(),
	}
	cfg.Train.Epochs, cfg.Train.LR = 60, 0.05
	res, err := pipeline.Train(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("train %d, val %d, test %d images\n", res.Splits.Train, res.Splits.Val, res.Splits.Test)
	fmt.Printf("test mAP %.2f\n", res.Test.MAP)
	// Output:
	// train 84, val 12, test 24 images
	// test mAP 1.00
}
