package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/color"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/calib"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/prediction"
	"github.com/multilabel/multilabel/serve"
)

// decisionBundle is the tiny bundle trained with f1 and carrying validation curves:
// under precision:0.9, red needs 0.92 (a purple image, red ≈ 0.906, loses it), blue
// 0.5, and green (no validation positive) keeps its F1 threshold 0.5.
func decisionBundle() *bundle.Bundle {
	b := modeltest.Bundle()
	b.Decision = &bundle.Decision{Rule: "f1", F1Thresholds: []float64{0.5, 0.5, 0.5}, Curves: []calib.Curve{
		{Scores: []float32{0.95, 0.92, 0.6, 0.3}, TP: []int{1, 2, 3, 3}, FP: []int{0, 0, 1, 2}},
		{Scores: []float32{0.1}, TP: []int{0}, FP: []int{1}},
		{Scores: []float32{0.9, 0.5}, TP: []int{1, 2}, FP: []int{0, 0}},
	}}
	return b
}

// TestDecisionOverrideAgrees: predict --decision, the library's Options.Decision and
// POST /v1/predict?decision= choose the same labels with the same thresholds and rule
// for every rule; bad rules are exit 2 and HTTP 400 with the reason.
func TestDecisionOverrideAgrees(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mlb := filepath.Join(dir, "colors.mlb")
	if err := decisionBundle().Save(mlb); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "old.mlb") // no decision.json
	if err := modeltest.Bundle().Save(old); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "purple.png")
	if err := modeltest.WritePNG(img, modeltest.Solid(color.RGBA{200, 10, 220, 255}, 16, 16)); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
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
	post := func(query string) (int, string) {
		resp, err := http.Post(ts.URL+"/v1/predict?"+query, "image/png", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	names := func(im prediction.Image) []string {
		var out []string
		for _, l := range im.Labels {
			out = append(out, l.Label)
		}
		return out
	}

	for rule, want := range map[string][]string{
		"f1":            {"blue", "red"},
		"precision:0.9": {"blue"},
		"recall:1":      {"blue", "red"},
		"topk:1":        {"blue"},
	} {
		code, out := runCLI(t, "predict", "--model", mlb, "--engine", "go", "--json", "--decision", rule, img)
		if code != exitOK {
			t.Fatalf("%s: predict exit %d: %s", rule, code, out)
		}
		var cli struct {
			Thresholds  []float64          `json:"thresholds"`
			Predictions []prediction.Image `json:"predictions"`
		}
		if err := json.Unmarshal([]byte(out), &cli); err != nil || len(cli.Predictions) != 1 {
			t.Fatalf("%s: %v: %s", rule, err, out)
		}

		lm, err := model.LoadWith(mlb, model.Options{Engine: "go", Decision: rule})
		if err != nil {
			t.Fatal(err)
		}
		preds, err := lm.PredictFiles(context.Background(), []string{img})
		lm.Close()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(preds[0])
		var lib prediction.Image
		if err := json.Unmarshal(raw, &lib); err != nil {
			t.Fatal(err)
		}

		status, resp := post("decision=" + rule)
		var api struct {
			Results []prediction.Image `json:"results"`
		}
		if err := json.Unmarshal([]byte(resp), &api); err != nil || status != 200 || len(api.Results) != 1 {
			t.Fatalf("%s: HTTP %d: %v: %s", rule, status, err, resp)
		}

		wantRule := prediction.RuleDecision(rule)
		for name, im := range map[string]prediction.Image{"CLI": cli.Predictions[0], "library": lib, "HTTP": api.Results[0]} {
			if got := names(im); !slices.Equal(got, want) || im.Rule != wantRule {
				t.Errorf("%s %s: labels %v rule %q, want %v %q", name, rule, got, im.Rule, want, wantRule)
			}
			for j, s := range im.Scores {
				if s.Threshold != cli.Thresholds[j] {
					t.Errorf("%s %s: threshold of %s %v, CLI %v", name, rule, s.Label, s.Threshold, cli.Thresholds[j])
				}
			}
		}
		if rule == "precision:0.9" && !slices.Equal(cli.Thresholds, []float64{float64(float32(0.92)), 0.5, 0.5}) {
			t.Errorf("precision:0.9 thresholds %v", cli.Thresholds)
		}
	}

	// Bad rules: exit 2 and 400, saying why.
	for _, bad := range []string{"precision:1.5", "junk", "topk:0"} {
		code, _, stderr := runCLIErr(t, "predict", "--model", mlb, "--engine", "go", "--decision", bad, img)
		if code != exitUsage || !strings.Contains(stderr, "decision") {
			t.Errorf("predict --decision %s: exit %d: %s", bad, code, stderr)
		}
		code, _, stderr = runCLIErr(t, "eval", "--model", mlb, "--data", filepath.Join(dir, "none.csv"), "--decision", bad)
		if code != exitUsage || !strings.Contains(stderr, "decision") {
			t.Errorf("eval --decision %s: exit %d: %s", bad, code, stderr)
		}
		if status, resp := post("decision=" + bad); status != http.StatusBadRequest || !strings.Contains(resp, "decision") {
			t.Errorf("HTTP decision=%s: %d %s", bad, status, resp)
		}
	}
	if code, _, stderr := runCLIErr(t, "predict", "--model", old, "--engine", "go", "--decision", "precision:0.9", img); code != exitUsage || !strings.Contains(stderr, "validation curves") {
		t.Errorf("precision rule on a bundle without curves: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLIErr(t, "predict", "--model", mlb, "--engine", "go", "--decision", "f1", "--top-k", "1", img); code != exitUsage {
		t.Errorf("--decision with --top-k: exit %d: %s", code, stderr)
	}
	if status, resp := post("decision=f1&top_k=1"); status != http.StatusBadRequest {
		t.Errorf("decision with top_k: %d %s", status, resp)
	}
}

// TestEvalDecision: eval --model --decision evaluates at the rule's thresholds.
func TestEvalDecision(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, _, err := modeltest.WriteDataset(dir, 12, 5)
	if err != nil {
		t.Fatal(err)
	}
	mlb := filepath.Join(dir, "colors.mlb")
	if err := decisionBundle().Save(mlb); err != nil {
		t.Fatal(err)
	}
	var th [2][]float64
	for i, rule := range []string{"f1", "precision:0.9"} {
		code, out := runCLI(t, "eval", "--model", mlb, "--data", labels, "--engine", "go", "--json", "--decision", rule)
		if code != exitOK {
			t.Fatalf("eval --decision %s: exit %d: %s", rule, code, out)
		}
		var res struct {
			PerClass []struct {
				Threshold float64 `json:"threshold"`
			} `json:"per_class"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for _, c := range res.PerClass {
			th[i] = append(th[i], c.Threshold)
		}
	}
	if len(th[0]) != 3 || th[0][0] != 0.5 || th[1][0] == th[0][0] {
		t.Errorf("eval thresholds f1 %v, precision:0.9 %v", th[0], th[1])
	}
	if code, _, stderr := runCLIErr(t, "eval", "--model", mlb, "--data", labels, "--decision", "topk:2"); code != exitUsage || !strings.Contains(stderr, "top-K") {
		t.Errorf("eval --decision topk:2: exit %d: %s", code, stderr)
	}
}
