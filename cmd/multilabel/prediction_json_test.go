package main

import (
	"bytes"
	"context"
	"encoding/json"
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

	// CLI.
	code, out := runCLI(t, "predict", "--model", mlb, "--engine", "go", "--json", img, broken)
	if code != exitOK {
		t.Fatalf("predict: exit %d: %s", code, out)
	}
	var cli struct {
		Predictions []prediction.Image `json:"predictions"`
	}
	if err := json.Unmarshal([]byte(out), &cli); err != nil || len(cli.Predictions) != 2 {
		t.Fatalf("%v: %s", err, out)
	}

	// Library.
	m, err := model.LoadWith(mlb, model.Options{Engine: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	preds, err := m.PredictFiles(context.Background(), []string{img, broken})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(preds)
	if err != nil {
		t.Fatal(err)
	}
	var lib []prediction.Image
	if err := json.Unmarshal(raw, &lib); err != nil {
		t.Fatal(err)
	}

	// HTTP.
	srv, err := serve.New(m, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	body, _ := os.ReadFile(img)
	resp, err := http.Post(ts.URL+"/v1/predict", "image/png", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var api struct {
		Results []prediction.Image `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&api); err != nil || resp.StatusCode != 200 || len(api.Results) != 1 {
		t.Fatalf("HTTP %d: %v", resp.StatusCode, err)
	}

	same := func(name string, a, b prediction.Image) {
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
	c := cli.Predictions[0]
	if c.Path != img || c.Rule != prediction.RuleThreshold || len(c.Scores) != 3 || len(c.Labels) == 0 || c.Error != "" {
		t.Fatalf("CLI prediction %+v", c)
	}
	same("library vs CLI", lib[0], c)
	same("HTTP vs CLI", api.Results[0], c)
	if lib[0].Path != img {
		t.Errorf("library path %q", lib[0].Path)
	}
	e := cli.Predictions[1]
	if e.Error == "" || len(e.Labels) != 0 || len(e.Scores) != 0 {
		t.Errorf("CLI error prediction %+v", e)
	}
	same("library vs CLI, broken image", lib[1], e)
}
