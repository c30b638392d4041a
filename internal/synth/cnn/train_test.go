package cnn

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/multilabel/multilabel/loss"
)

// brightness makes a trivially learnable source task: class 1 images are brighter.
func brightness(n, size int) ([]float32, []int) {
	x := randomInput(n, size, 2)
	cls := make([]int, n)
	per := 3 * size * size
	for i := range cls {
		cls[i] = i % 2
		for k := 0; k < per; k++ {
			x[i*per+k] = 0.3*x[i*per+k] + float32(2*cls[i]-1)
		}
	}
	return x, cls
}

func TestTrainSourceLearns(t *testing.T) {
	t.Parallel()
	a := Arch{Size: 8, Widths: [3]int{4, 4, 4}, Classes: 2}
	net, err := New(a, 1)
	if err != nil {
		t.Fatal(err)
	}
	x, cls := brightness(64, a.Size)
	var losses []float64
	err = net.TrainSource(context.Background(), x, cls, TrainConfig{Epochs: 6, Batch: 16, LR: 1e-2, Seed: 1,
		OnEpoch: func(_ int, l float64) { losses = append(losses, l) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(losses) != 6 || !(losses[5] < 0.75*losses[0]) {
		t.Fatalf("loss did not fall: %v", losses)
	}
}

func TestTrainMultiLabelFreezesEarlyStages(t *testing.T) {
	t.Parallel()
	a := Arch{Size: 8, Widths: [3]int{3, 4, 5}, Classes: 2}
	net := perturbed(t, a)
	before := net.Clone()
	x := randomInput(20, a.Size, 5)
	act, err := net.Run(x, 20, StageStem, StageBlock3, Activation, 8)
	if err != nil {
		t.Fatal(err)
	}
	truth := make([][]int8, 20)
	for i := range truth {
		truth[i] = []int8{int8(i % 2), int8((i / 2) % 2), -1}
	}
	h := NewHead(3, a.FeatureDim(), 1)
	h0 := slices.Clone(h.W)
	err = net.TrainMultiLabel(context.Background(), act, truth, h,
		TrainConfig{From: StageBlock3, Epochs: 2, Batch: 8, LR: 1e-2, Seed: 1, Loss: loss.Defaults(loss.ASL)})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range net.Params {
		changed := maxDiff(p.Data, before.Params[i].Data) != 0
		frozen := i < stageParams[StageBlock3][0] || i >= stageParams[NumStages][0]
		if changed == frozen {
			t.Errorf("parameter %s: changed=%v, frozen=%v", p.Name, changed, frozen)
		}
	}
	if maxDiff(h.W, h0) == 0 {
		t.Error("head did not train")
	}
	s, err := net.PredictMultiLabel(act, 20, StageBlock3, h, 8)
	if err != nil || len(s) != 60 {
		t.Fatalf("predict: %d scores, %v", len(s), err)
	}
}

func TestBadInputs(t *testing.T) {
	t.Parallel()
	a := Arch{Size: 8, Widths: [3]int{2, 2, 2}, Classes: 2}
	if _, err := New(Arch{Size: 7, Widths: [3]int{1, 1, 1}, Classes: 1}, 1); err == nil {
		t.Error("size 7 accepted")
	}
	net, _ := New(a, 1)
	ctx := context.Background()
	if _, err := net.Run(make([]float32, 10), 1, 0, NumStages, Features, 4); err == nil {
		t.Error("short input accepted by Run")
	}
	if err := net.TrainSource(ctx, make([]float32, 3*64), []int{5}, TrainConfig{Epochs: 1, Batch: 1, LR: 1}); err == nil {
		t.Error("class out of range accepted")
	}
	if err := net.TrainSource(ctx, make([]float32, 3*64), []int{1}, TrainConfig{Epochs: 0, Batch: 1, LR: 1}); err == nil {
		t.Error("zero epochs accepted")
	}
	h := NewHead(2, 2, 1)
	if err := net.TrainMultiLabel(ctx, make([]float32, 3*64), [][]int8{{1}}, h,
		TrainConfig{Epochs: 1, Batch: 1, LR: 1, Loss: loss.Defaults(loss.BCE)}); err == nil {
		t.Error("truth of the wrong width accepted")
	}
	if err := net.TrainMultiLabel(ctx, make([]float32, 3*64), [][]int8{{1, 0}}, h,
		TrainConfig{Epochs: 1, Batch: 1, LR: 1, Loss: loss.Config{Kind: "nope"}}); err == nil {
		t.Error("unknown loss accepted")
	}
}

func ExampleNet_ExportONNX() {
	net, _ := New(Arch{Size: 8, Widths: [3]int{2, 3, 4}, Classes: 3}, 1)
	data, _ := net.ExportONNX("example")
	back, _ := ImportONNX(data)
	fmt.Println(back.Arch.FeatureDim(), IsSynth(data))
	// Output: 4 true
}
