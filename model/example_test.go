package model_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/train"
)

func solidImage(c color.Color) image.Image { return modeltest.Solid(c, 16, 12) }

// Load a bundle and predict the labels of in-memory images.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "colors.mlb")
	if err := modeltest.Bundle().Save(path); err != nil { // a tiny red/green/blue model
		log.Fatal(err)
	}

	m, err := model.LoadWith(path, model.Options{Engine: "go"}) // or model.Load(path): ONNX Runtime when present
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	preds, err := m.Predict(context.Background(), []image.Image{
		solidImage(color.RGBA{255, 0, 0, 255}),
		solidImage(color.RGBA{0, 255, 255, 255}),
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range preds {
		var out []string
		for _, l := range p.Labels {
			out = append(out, fmt.Sprintf("%s %.3f", l.Label, l.Score))
		}
		fmt.Println(strings.Join(out, ", "))
	}
	// Output:
	// red 0.982
	// green 0.982, blue 0.982
}

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

	cfg := model.TrainConfig{
		Data:     labels,
		Backbone: backbone,
		Out:      filepath.Join(dir, "colors.mlb"),
		Engine:   "go",
		NoCache:  true,
		Seed:     1,
		Train:    train.DefaultConfig(),
	}
	cfg.Train.Epochs, cfg.Train.LR = 60, 0.05
	res, err := model.Train(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("train %d, val %d, test %d images\n", res.Splits.Train, res.Splits.Val, res.Splits.Test)
	fmt.Printf("test mAP %.2f\n", res.Test.MAP)
	// Output:
	// train 84, val 12, test 24 images
	// test mAP 1.00
}
