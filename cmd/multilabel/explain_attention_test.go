package main

import (
	"context"
	"encoding/json"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/prediction"
)

// TestExplainAttention: an attention head's maps are its attention weights over the
// tokens of the spatial cut. predict --explain writes and lists one PNG per predicted
// label, and the library's map of each label is the head's AttentionMaps row (the
// weights sum to 1 over the H·W positions).
func TestExplainAttention(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 40, 4)
	if err != nil {
		t.Fatal(err)
	}
	mlb := filepath.Join(dir, "attn.mlb")
	code, out := runModelCmd(t, "train", "--data", labels, "--backbone", bb, "--feature-node", "x", "--engine", "go", "--no-cache",
		"--epochs", "3", "--head", "attention", "--attn-dim", "16", "--out", mlb)
	if code != exitOK {
		t.Fatalf("train --head attention: exit %d: %s", code, out)
	}
	img := filepath.Join(dir, "img000.png")
	maps := filepath.Join(dir, "maps")
	code, out, stderr := runCLIErr(t, "predict", "--model", mlb, "--engine", "go", "--top-k", "2", "--explain", maps, "--json", img)
	if code != exitOK {
		t.Fatalf("predict --explain: exit %d: %s", code, stderr)
	}
	var cli struct {
		Predictions []prediction.Image `json:"predictions"`
	}
	if err := json.Unmarshal([]byte(out), &cli); err != nil || len(cli.Predictions) != 1 {
		t.Fatalf("%v: %s", err, out)
	}
	p := cli.Predictions[0]
	if len(p.Explain) != 2 {
		t.Fatalf("explain %+v for labels %+v", p.Explain, p.Labels)
	}
	for _, m := range p.Explain {
		if _, err := os.Stat(m.File); err != nil {
			t.Errorf("listed map %s: %v", m.File, err)
		}
		if !(m.Min >= 0 && m.Max <= 1 && m.Min <= m.Mean && m.Mean <= m.Max) {
			t.Errorf("attention weights out of [0,1]: %+v", m)
		}
	}

	checkAttentionMaps(t, mlb, img, "go")
	// Group decoding (4 labels, 2 queries: each query's row is the map of two labels),
	// on every engine: the maps come from the head's first half appended to the graph,
	// checked here against the Go forward (headparams.AttentionMaps).
	grouped := filepath.Join(dir, "grouped.mlb")
	code, out = runModelCmd(t, "train", "--data", labels, "--backbone", bb, "--feature-node", "x", "--engine", "go", "--no-cache",
		"--epochs", "2", "--head", "attention", "--attn-dim", "16", "--max-queries", "2", "--out", grouped)
	if code != exitOK {
		t.Fatalf("train --head attention --max-queries 2: exit %d: %s", code, out)
	}
	// A noise image: on a solid one every token is alike and so is every query's map.
	noise := modeltest.Solid(color.RGBA{128, 128, 128, 255}, 16, 12)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(rng.IntN(256))
	}
	for i := 3; i < len(noise.Pix); i += 4 {
		noise.Pix[i] = 255
	}
	noisy := filepath.Join(dir, "noise.png")
	if err := modeltest.WritePNG(noisy, noise); err != nil {
		t.Fatal(err)
	}
	engines := []string{"go"}
	if sharedtest.FindORTLib() != "" || os.Getenv("MULTILABEL_REQUIRE_ORT") != "" {
		engines = append(engines, "ort")
	}
	for _, eng := range engines {
		checkAttentionMaps(t, mlb, noisy, eng)
		checkAttentionMaps(t, grouped, noisy, eng)
	}
}

// checkAttentionMaps predicts img with the bundle mlb on engine eng, drawing every
// label's map, and compares each map with the head's AttentionMaps of the image's
// features (the weights also sum to 1).
func checkAttentionMaps(t *testing.T, mlb, img, eng string) {
	t.Helper()
	opt := model.Options{Explain: true, Engine: eng}
	if eng == "ort" {
		opt.ORTLib = sharedtest.ORTLib(t)
	}
	b, err := bundle.Read(mlb)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := model.LoadWith(mlb, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	all := func(int, *model.Prediction) []int {
		idx := make([]int, len(b.Labels))
		for j := range idx {
			idx[j] = j
		}
		return idx
	}
	preds, err := mod.ExplainFiles(context.Background(), []string{img}, all)
	if err != nil {
		t.Fatal(err)
	}
	feats, ok, _, err := mod.Features(context.Background(), []string{img})
	if err != nil || !ok[0] {
		t.Fatalf("features: %v %v", err, ok)
	}
	want, err := b.Head.AttentionMaps(feats, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds[0].Maps) != len(b.Labels) {
		t.Fatalf("library prediction has no maps: %+v", preds[0])
	}
	for _, lm := range preds[0].Maps {
		j := -1
		for k, l := range b.Labels {
			if l == lm.Label {
				j = k
			}
		}
		if j < 0 {
			t.Fatalf("map for unknown label %q", lm.Label)
		}
		sum := 0.0
		for i, v := range lm.Values {
			sum += float64(v)
			if math.Abs(float64(v-want[0][j][i])) > 1e-5 {
				t.Fatalf("%s, engine %s: label %s position %d: map %g, AttentionMaps %g", filepath.Base(mlb), eng, lm.Label, i, v, want[0][j][i])
			}
		}
		if math.Abs(sum-1) > 1e-4 {
			t.Errorf("label %s: attention weights sum to %g", lm.Label, sum)
		}
	}
}
