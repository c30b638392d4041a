package demo_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/multilabel/multilabel/internal/demo"
)

func ExampleSpecFor() {
	s := demo.SpecFor(24)
	fmt.Println(s.Width, s.Height, s.Layout, s.Mean[0], s.Std[0])
	// Output: 24 24 NCHW 0.5 0.25
}

// ExampleRun runs a very small demo with the embedded backbone and the pure-Go engine
// (the README's `multilabel demo --quick` uses demo.Quick()).
func ExampleRun() {
	cfg := demo.Config{TrainImages: 32, TestImages: 32, ScratchEpochs: 1, FineTuneEpochs: 1, ProbeEpochs: 2,
		Batch: 16, Seed: 1, Engine: "go", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	res, err := demo.Run(context.Background(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res.Rows {
		fmt.Println(r.Method, r.Loss)
	}
	// Output:
	// scratch bce
	// scratch asl
	// linear-probe bce
	// linear-probe asl
	// fine-tune bce
	// fine-tune asl
}

func ExampleCheckMethods() {
	m, err := demo.CheckMethods([]string{"linear-probe", "scratch"})
	fmt.Println(m, err)
	_, err = demo.CheckMethods([]string{"magic"})
	fmt.Println(err)
	// Output:
	// [scratch linear-probe] <nil>
	// bad demo configuration: unknown method "magic" (want scratch, linear-probe, fine-tune)
}

// ExampleRunReal runs the comparison on a real data set (compiled, not run: it needs
// the data and a backbone). QuickReal fine-tunes one epoch; Methods and Limit shorten
// a run further.
func ExampleRunReal() {
	cfg := demo.QuickReal()
	cfg.Data, cfg.Backbone = "miml-scenes/labels_onehot.csv", "squeezenet1.1-fp16.onnx"
	cfg.Methods, cfg.Limit = []string{"scratch", "linear-probe"}, 300
	res, err := demo.RunReal(context.Background(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(res.Table(true), res.Summary())
}
