package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/prediction"
	"github.com/multilabel/multilabel/serve"
)

// TestPredictionJSONAgrees: predict --json, POST /v1/predict and json.Marshal of the
// library's Prediction write one image's prediction in the same shape with the same
// labels, scores, thresholds and rule; an unreadable image carries its error in both
// file-based forms.
func TestPredictionJSONAgrees(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mlb := filepath.Join(dir, "colors.mlb")
	if err := modeltest.Bundle().Save(mlb); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "purple.png")
	if err := modeltest.WritePNG(img, modeltest.Solid(color.RGBA{200, 10, 220, 255}, 16, 16)); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.png")
	if err := os.WriteFile(broken, []byte("\x89PNG not really"), 0o644); err != nil {
		t.Fatal(err)
	}

	cli, lib, api := threeWays(t, mlb, []string{img, broken}, nil, model.Options{Engine: "go"}, "")
	same := func(name string, a, b prediction.Image) { t.Helper(); samePrediction(t, name, a, b) }
	c := cli[0]
	if c.Path != img || c.Rule != prediction.RuleThreshold || len(c.Scores) != 3 || len(c.Labels) == 0 || c.Error != "" {
		t.Fatalf("CLI prediction %+v", c)
	}
	same("library vs CLI", lib[0], c)
	same("HTTP vs CLI", api[0], c)
	if lib[0].Path != img {
		t.Errorf("library path %q", lib[0].Path)
	}
	e := cli[1]
	if e.Error == "" || len(e.Labels) != 0 || len(e.Scores) != 0 {
		t.Errorf("CLI error prediction %+v", e)
	}
	same("library vs CLI, broken image", lib[1], e)
}

// threeWays predicts paths through predict --json (with extra flags), the library
// (model.LoadWith opts, json.Marshal of PredictFiles) and POST /v1/predict?query (the
// first path only), and returns the three decoded predictions.
func threeWays(t *testing.T, mlb string, paths, flags []string, opts model.Options, query string) (cli, lib, api []prediction.Image) {
	t.Helper()
	img := paths[0]
	// CLI.
	code, out := runCLI(t, append(append([]string{"predict", "--model", mlb, "--engine", "go", "--json"}, flags...), paths...)...)
	if code != exitOK {
		t.Fatalf("predict: exit %d: %s", code, out)
	}
	var c struct {
		Predictions []prediction.Image `json:"predictions"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || len(c.Predictions) != len(paths) {
		t.Fatalf("%v: %s", err, out)
	}

	// Library.
	m, err := model.LoadWith(mlb, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	preds, err := m.PredictFiles(context.Background(), paths)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(preds)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &lib); err != nil {
		t.Fatal(err)
	}

	// HTTP, serving a model loaded without options: the query decides.
	sm, err := model.LoadWith(mlb, model.Options{Engine: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	srv, err := serve.New(sm, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	body, _ := os.ReadFile(img)
	u := ts.URL + "/v1/predict"
	if query != "" {
		u += "?" + query
	}
	resp, err := http.Post(u, "image/png", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Results []prediction.Image `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != 200 || len(a.Results) != 1 {
		t.Fatalf("HTTP %d: %v", resp.StatusCode, err)
	}
	return c.Predictions, lib, a.Results
}

// samePrediction fails unless a and b have the same rule, error, labels (in order) and
// scores.
func samePrediction(t *testing.T, name string, a, b prediction.Image) {
	t.Helper()
	if a.Rule != b.Rule || a.Error != b.Error || len(a.Labels) != len(b.Labels) || len(a.Scores) != len(b.Scores) {
		t.Fatalf("%s: %+v vs %+v", name, a, b)
	}
	for _, pair := range [][2][]prediction.Label{{a.Labels, b.Labels}, {a.Scores, b.Scores}} {
		for i := range pair[0] {
			x, y := pair[0][i], pair[1][i]
			if x.Label != y.Label || x.Threshold != y.Threshold || math.Abs(x.Score-y.Score) > 1e-5 {
				t.Errorf("%s: %+v vs %+v", name, x, y)
			}
		}
	}
}

// TestTopKOneRule: predict --top-k K, HTTP top_k=K and model.Options{TopK: K} are one
// rule: the K best labels whatever their thresholds, with rule "top K". The purple
// image passes two of the three thresholds, so K = 3 tells this rule apart from
// "thresholds, then at most K" (which would give 2 labels).
func TestTopKOneRule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mlb := filepath.Join(dir, "colors.mlb")
	if err := modeltest.Bundle().Save(mlb); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "purple.png")
	if err := modeltest.WritePNG(img, modeltest.Solid(color.RGBA{200, 10, 220, 255}, 16, 16)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{1, 3} {
		cli, lib, api := threeWays(t, mlb, []string{img}, []string{"--top-k", fmt.Sprint(k)}, model.Options{Engine: "go", TopK: k}, fmt.Sprintf("top_k=%d", k))
		c := cli[0]
		if c.Rule != prediction.RuleTopK(k) || len(c.Labels) != k {
			t.Fatalf("top-k %d: CLI prediction %+v", k, c)
		}
		for i := 1; i < len(c.Labels); i++ {
			if c.Labels[i].Score > c.Labels[i-1].Score {
				t.Errorf("top-k %d: labels not best first: %+v", k, c.Labels)
			}
		}
		samePrediction(t, fmt.Sprintf("top-k %d: library vs CLI", k), lib[0], c)
		samePrediction(t, fmt.Sprintf("top-k %d: HTTP vs CLI", k), api[0], c)
	}
	// Beyond the vocabulary: a usage error on the CLI, 400 over HTTP, an error in the
	// library.
	if code, out := runCLI(t, "predict", "--model", mlb, "--engine", "go", "--top-k", "4", img); code != exitUsage {
		t.Errorf("--top-k 4: exit %d: %s", code, out)
	}
	if _, err := model.LoadWith(mlb, model.Options{Engine: "go", TopK: 4}); err == nil {
		t.Error("library TopK 4: no error")
	}
	m, err := model.LoadWith(mlb, model.Options{Engine: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	srv, err := serve.New(m, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	body, _ := os.ReadFile(img)
	resp, err := http.Post(ts.URL+"/v1/predict?top_k=4", "image/png", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("top_k=4: HTTP %d, want 400", resp.StatusCode)
	}
}
