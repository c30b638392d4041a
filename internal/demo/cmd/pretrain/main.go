// Command pretrain regenerates the demo's embedded backbone (internal/demo/backbone.onnx):
// it pretrains the synth residual CNN on the synth source task with
// demo.DefaultPretrain() and writes the ONNX file. The output is deterministic: running it
// again gives the same bytes.
//
//	GOTOOLCHAIN=auto go run ./internal/demo/cmd/pretrain [-out internal/demo/backbone.onnx]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/multilabel/multilabel/internal/demo"
	"github.com/multilabel/multilabel/internal/fsutil"
)

func main() {
	out := flag.String("out", filepath.Join("internal", "demo", "backbone.onnx"), "output ONNX file")
	images := flag.Int("images", 0, "images per epoch (0: the default configuration)")
	epochs := flag.Int("epochs", 0, "epochs (0: the default configuration)")
	lr := flag.Float64("lr", 0, "peak learning rate (0: the default configuration)")
	flag.Parse()
	cfg := demo.DefaultPretrain()
	if *images > 0 {
		cfg.Images = *images
	}
	if *epochs > 0 {
		cfg.Epochs = *epochs
	}
	if *lr > 0 {
		cfg.LR = *lr
	}
	res, err := demo.Pretrain(context.Background(), cfg)
	if err == nil {
		err = fsutil.WriteFile(*out, res.ONNX, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pretrain:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s (%d bytes), source accuracy %.3f, %s\n", *out, len(res.ONNX), res.Accuracy, res.Elapsed.Round(1e9))
}
