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
