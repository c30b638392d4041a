package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/headparams"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/prediction"
	"github.com/multilabel/multilabel/serve"
)

// explainBundle saves a bundle on the shared SqueezeNet 1.1 with a seeded random
// linear head whose thresholds (0 for desert and sea, 1 for the others) predict desert
// and sea on every image.
func explainBundle(t *testing.T, dir string) string {
	t.Helper()
	bb, err := backbone.Load(filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx"), backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fm, err := bb.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	labels := []string{"desert", "mountains", "sea", "sunset", "trees"}
	h, err := headparams.New(headparams.Linear, bb.FeatureDim, 0, len(labels), 3)
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle.Bundle{Backbone: fm, BackboneInfo: bundle.BackboneInfo{Name: "squeezenet1.1", FeatureNode: bb.FeatureNode, FeatureDim: bb.FeatureDim, Pool: bb.Pool},
		Head: *h, Labels: labels, Thresholds: []float64{0, 1, 0, 1, 1}, Spec: bb.Spec}
	p := filepath.Join(dir, "miml.mlb")
	if err := b.Save(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExplainAgrees: predict --explain DIR --json writes one PNG per image and
// predicted label at DIR/<image>.<label>.png and lists it; the library (a model opened
// with Explain, marshalled) and POST /v1/predict?explain=1 carry the same maps (label,
// grid, range) with the PNG inline, which decodes; the CLI's file is the library's PNG.
func TestExplainAgrees(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mlb := explainBundle(t, dir)
	// PNG copies of two MIML photos: the CLI and the server then decode them alike
	// (a JPEG file may be decoded downscaled in the DCT domain, an upload is not).
	imgs := sharedtest.Dir(t, "data/miml-scenes/images")
	var paths []string
	for _, n := range []string{"1", "900"} {
		img, err := imageio.DecodeFile(filepath.Join(imgs, n+".jpg"), imageio.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, n+".png")
		if err := modeltest.WritePNG(p, img); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	maps := filepath.Join(dir, "maps")
	code, out, stderr := runCLIErr(t, append([]string{"predict", "--model", mlb, "--explain", maps, "--json"}, paths...)...)
	if code != exitOK {
		t.Fatalf("predict --explain: exit %d: %s", code, stderr)
	}
	var cli struct {
		Predictions []prediction.Image `json:"predictions"`
	}
	if err := json.Unmarshal([]byte(out), &cli); err != nil || len(cli.Predictions) != 2 {
		t.Fatalf("%v: %s", err, out)
	}
	ents, _ := os.ReadDir(maps)
	if len(ents) != 4 {
		t.Fatalf("%d files in %s, want 4", len(ents), maps)
	}
	for i, p := range cli.Predictions {
		stem := strings.TrimSuffix(filepath.Base(paths[i]), ".png")
		if len(p.Explain) != 2 || p.Explain[0].Label != p.Labels[0].Label {
			t.Fatalf("CLI explain %+v for labels %+v", p.Explain, p.Labels)
		}
		for _, m := range p.Explain {
			if want := filepath.Join(maps, stem+"."+m.Label+".png"); m.File != want || m.PNG != nil {
				t.Errorf("file %q (png %d bytes), want %q", m.File, len(m.PNG), want)
			}
			if m.Width != 13 || m.Height != 13 || !(m.Min <= m.Mean && m.Mean <= m.Max) {
				t.Errorf("map %+v", m)
			}
		}
	}

	m, err := model.LoadWith(mlb, model.Options{Explain: true})
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
	var lib []prediction.Image
	if err := json.Unmarshal(raw, &lib); err != nil {
		t.Fatal(err)
	}

	srv, err := serve.New(m, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	post := func(url, file string) (*http.Response, []prediction.Image) {
		body, _ := os.ReadFile(file)
		resp, err := http.Post(url, "image/png", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var api struct {
			Results []prediction.Image `json:"results"`
		}
		json.NewDecoder(resp.Body).Decode(&api)
		return resp, api.Results
	}
	for i, c := range cli.Predictions {
		resp, api := post(ts.URL+"/v1/predict?explain=1", paths[i])
		if resp.StatusCode != 200 || len(api) != 1 {
			t.Fatalf("HTTP %d, %d results", resp.StatusCode, len(api))
		}
		for _, other := range []struct {
			name string
			im   prediction.Image
		}{{"library", lib[i]}, {"HTTP", api[0]}} {
			if len(other.im.Explain) != len(c.Explain) {
				t.Fatalf("%s: %d maps, CLI %d", other.name, len(other.im.Explain), len(c.Explain))
			}
			for k, x := range other.im.Explain {
				y := c.Explain[k]
				if x.Label != y.Label || x.Width != y.Width || x.Height != y.Height || math.Abs(x.Mean-y.Mean) > 1e-3*math.Max(1, math.Abs(y.Mean)) ||
					math.Abs(x.Max-y.Max) > 1e-3*math.Max(1, math.Abs(y.Max)) {
					t.Errorf("%s map %s %dx%d mean %v max %v, CLI %s %dx%d mean %v max %v", other.name, x.Label, x.Width, x.Height, x.Mean, x.Max, y.Label, y.Width, y.Height, y.Mean, y.Max)
				}
				img, err := png.Decode(bytes.NewReader(x.PNG))
				if err != nil || img.Bounds().Dx() != 224 {
					t.Fatalf("%s %s: PNG: %v", other.name, x.Label, err)
				}
				file, err := os.ReadFile(y.File)
				if err != nil || !bytes.Equal(file, x.PNG) {
					t.Errorf("CLI file %s differs from the %s PNG (%v)", y.File, other.name, err)
				}
			}
		}
	}
	// GET /v1/model says the model draws maps.
	mr, err := http.Get(ts.URL + "/v1/model")
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	json.NewDecoder(mr.Body).Decode(&info)
	mr.Body.Close()
	if info["explain"] != true {
		t.Errorf("GET /v1/model: explain = %v", info["explain"])
	}
	// A plain request carries no maps; a bad explain= value is refused.
	if resp, api := post(ts.URL+"/v1/predict", paths[0]); resp.StatusCode != 200 || len(api) != 1 || api[0].Explain != nil {
		t.Errorf("plain request: HTTP %d, %+v", resp.StatusCode, api)
	}
	if resp, _ := post(ts.URL+"/v1/predict?explain=maybe", paths[0]); resp.StatusCode != 400 {
		t.Errorf("explain=maybe: HTTP %d", resp.StatusCode)
	}
}

// TestExplainBadInput: --explain on a bundle whose cut has no spatial map exits 2
// naming the cut and backbone inspect; serve answers explain=1 on such a model with 400.
func TestExplainBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bb, err := backbone.Load(filepath.Join("..", "..", "backbone", "testdata", "tiny_gemm.onnx"), backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fm, err := bb.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	h, err := headparams.New(headparams.Linear, bb.FeatureDim, 0, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle.Bundle{Backbone: fm, BackboneInfo: bundle.BackboneInfo{Name: "tiny_gemm", FeatureNode: bb.FeatureNode, FeatureDim: bb.FeatureDim},
		Head: *h, Labels: []string{"a", "b"}, Thresholds: []float64{0.5, 0.5}, Spec: bb.Spec}
	mlb := filepath.Join(dir, "flat.mlb")
	if err := b.Save(mlb); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "x.png")
	if err := modeltest.WritePNG(img, modeltest.Solid(color.RGBA{200, 10, 10, 255}, 8, 8)); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLIErr(t, "predict", "--model", mlb, "--engine", "go", "--explain", filepath.Join(dir, "maps"), img)
	if code != exitUsage || !strings.Contains(stderr, bb.FeatureNode) || !strings.Contains(stderr, "backbone inspect") || !strings.Contains(stderr, "--explain") {
		t.Fatalf("exit %d: %s", code, stderr)
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
	resp, err := http.Post(ts.URL+"/v1/predict?explain=1", "image/png", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("explain=1 on a model without maps: HTTP %d", resp.StatusCode)
	}
}
