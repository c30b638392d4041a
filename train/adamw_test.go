package train

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/internal/sharedtest"

	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/loss"
)

// Fit reproduces full-batch AdamW steps of PyTorch (testdata/gen_adamw.py): per-step
// losses and final weights, with clipping, decoupled weight decay on weights only,
// standardisation, and the bce, weighted and asl losses on both heads.
func TestAdamWAgainstPyTorch(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "adamw.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		X      [][]float32 `json:"x"`
		Labels [][]int8    `json:"labels"`
		Cases  []struct {
			Name        string        `json:"name"`
			Head        string        `json:"head"`
			Hidden      int           `json:"hidden"`
			Loss        loss.Config   `json:"loss"`
			LR          float64       `json:"lr"`
			WeightDecay float64       `json:"weight_decay"`
			Clip        float64       `json:"clip"`
			Steps       int           `json:"steps"`
			Init        []interface{} `json:"init"`
			Losses      []float64     `json:"losses"`
			Final       [][]float32   `json:"final"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	n, dim := len(ref.X), len(ref.X[0])
	var x []float32
	for _, r := range ref.X {
		x = append(x, r...)
	}
	for _, be := range testBackends(t) {
		for _, c := range ref.Cases {
			t.Run(be+"/"+c.Name, func(t *testing.T) {
				init := flatten(c.Init)
				classes := len(ref.Labels[0])
				p := &head.Params{Kind: c.Head, In: dim, Hidden: c.Hidden, Out: classes, W1: init[0], B1: init[1]}
				if c.Head == head.MLP {
					p.W2, p.B2 = init[2], init[3]
				}
				lc := c.Loss
				cfg := Config{Head: c.Head, Hidden: c.Hidden, Loss: lc.Kind, LossConfig: &lc, Epochs: c.Steps,
					BatchSize: n, LR: c.LR, WeightDecay: c.WeightDecay, ClipNorm: c.Clip, Schedule: Constant, Init: p, Backend: be}
				res, err := Fit(context.Background(), cfg, x, ref.Labels, nil, nil, dim, Callbacks{})
				if err != nil {
					t.Fatal(err)
				}
				for i, e := range res.History {
					if math.Abs(e.TrainLoss-c.Losses[i]) > 1e-5*(1+math.Abs(c.Losses[i])) {
						t.Errorf("step %d loss %.7f, PyTorch %.7f", i+1, e.TrainLoss, c.Losses[i])
					}
				}
				got, _ := res.Head.Weights()
				for i := range got {
					for k := range got[i] {
						if d := math.Abs(float64(got[i][k] - c.Final[i][k])); d > 1e-5 {
							t.Errorf("weight %d[%d] = %.7f, PyTorch %.7f", i, k, got[i][k], c.Final[i][k])
						}
					}
				}
			})
		}
	}
}

// testBackends lists the training backends to check: pure Go always, ONNX Runtime when
// its library is found (required with MULTILABEL_REQUIRE_ORT).
func testBackends(t *testing.T) []string {
	if sharedtest.FindORTLib() != "" || os.Getenv("MULTILABEL_REQUIRE_ORT") != "" {
		sharedtest.ORTLib(t)
		return []string{"go", "onnx"}
	}
	return []string{"go"}
}

// flatten turns the JSON nested lists of the initial weights into flat float32 slices.
func flatten(ws []interface{}) [][]float32 {
	out := make([][]float32, len(ws))
	var rec func(v interface{}, dst *[]float32)
	rec = func(v interface{}, dst *[]float32) {
		switch v := v.(type) {
		case []interface{}:
			for _, e := range v {
				rec(e, dst)
			}
		case float64:
			*dst = append(*dst, float32(v))
		}
	}
	for i, w := range ws {
		rec(w, &out[i])
	}
	return out
}
