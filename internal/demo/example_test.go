package demo_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/internal/demo"
	"github.com/multilabel/multilabel/internal/sharedtest"
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
	// graph-probe bce
	// graph-probe asl
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

// TestRunRealUsage is RunReal's usage example, run: the comparison on a real data set.
// It was an Example without output (it needs the data and a backbone); as a test it runs
// on the shared MIML scenes and SqueezeNet and skips where they are absent. QuickReal
// fine-tunes one epoch; Methods and Limit shorten a run further (300 images in a real
// short run; 60 here).
func TestRunRealUsage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	data := filepath.Join(sharedtest.Dir(t, "data/miml-scenes"), "labels_onehot.csv")
	bb := filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	cfg := demo.QuickReal()
	cfg.Data, cfg.Backbone = data, bb
	cfg.Methods, cfg.Limit = []string{"scratch", "linear-probe"}, 60
	cfg.CacheDir, cfg.ORTLib = t.TempDir(), sharedtest.FindORTLib()
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	res, err := demo.RunReal(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	table := res.Table(true) + res.Summary()
	if len(res.Rows) == 0 || !strings.Contains(table, "linear-probe") || !strings.Contains(table, "scratch") {
		t.Fatalf("rows %d, table:\n%s", len(res.Rows), table)
	}
}
