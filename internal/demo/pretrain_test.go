package demo

import (
	"bytes"
	"context"
	"testing"

	"github.com/multilabel/multilabel/internal/synth/cnn"
)

// TestPretrainDeterministic checks on a tiny configuration what the embedded backbone
// relies on: pretraining twice gives the same ONNX bytes.
func TestPretrainDeterministic(t *testing.T) {
	t.Parallel()
	cfg := PretrainConfig{Arch: cnn.Arch{Size: 8, Widths: [3]int{2, 3, 4}}, Images: 40, Epochs: 2, Batch: 8, LR: 3e-3, Seed: 3}
	a, err := Pretrain(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Pretrain(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.ONNX, b.ONNX) {
		t.Fatal("two pretrainings with the same configuration differ")
	}
	if _, err := cnn.ImportONNX(a.ONNX); err != nil {
		t.Fatal(err)
	}
}

// TestEmbeddedBackbone checks the embedded file is a synth backbone of the default
// architecture and small enough to ship.
func TestEmbeddedBackbone(t *testing.T) {
	t.Parallel()
	b := EmbeddedBackbone()
	if len(b) > 2<<20 {
		t.Fatalf("embedded backbone is %d bytes, want < 2 MiB", len(b))
	}
	net, err := cnn.ImportONNX(b)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultPretrain().Arch
	if net.Arch != want {
		t.Fatalf("embedded arch %+v, want %+v (regenerate with go run ./internal/demo/cmd/pretrain)", net.Arch, want)
	}
}
