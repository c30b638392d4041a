package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/serve"
)

// oneLabel is the smallest serve.Predictor: one label, score 0.75 for every image.
type oneLabel struct{}

func (oneLabel) Labels() []string      { return []string{"x"} }
func (oneLabel) Thresholds() []float64 { return []float64{0.5} }
func (oneLabel) Info() map[string]any  { return map[string]any{"id": "one"} }
func (oneLabel) Scores(_ context.Context, imgs []image.Image) ([][]float32, error) {
	out := make([][]float32, len(imgs))
	for i := range out {
		out[i] = []float32{0.75}
	}
	return out, nil
}

// TestBenchServeURL: bench serve --url drives an external server with slow bodies beside
// the real traffic and reports both (and the server's RSS and CPU for --server-pid, here
// the test itself); hostile flags without --url are a usage error.
func TestBenchServeURL(t *testing.T) {
	t.Parallel()
	if code, _, stderr := runCLIErr(t, "bench", "serve", "--model", "m.mlb", "--image", "x.jpg", "--slow-bodies", "2"); code != exitUsage || !strings.Contains(stderr, "--url") {
		t.Fatalf("--slow-bodies without --url: exit %d, %s", code, stderr)
	}
	srv, err := serve.New(oneLabel{}, serve.Options{BodyTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4)))
	img := filepath.Join(t.TempDir(), "x.png")
	if err := os.WriteFile(img, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLIErr(t, "bench", "serve", "--url", ts.URL+"/v1/predict", "--image", img, "--levels", "2",
		"--duration", "1s", "--slow-bodies", "2", "--server-pid", strconv.Itoa(os.Getpid()), "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rows []hostileRow
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("%v: %s", err, stdout)
	}
	r := rows[0]
	if r.Real.Requests == 0 || r.Real.Non2xx != 0 || r.Slow == nil || r.Slow.Connections != 2 || r.ServerRSS[1] <= 0 {
		t.Errorf("%+v (slow %+v)", r, r.Slow)
	}

	// --hostile-only: the hostile clients alone, no real request and no image needed.
	if code, _, stderr := runCLIErr(t, "bench", "serve", "--url", ts.URL+"/v1/predict", "--hostile-only"); code != exitUsage || !strings.Contains(stderr, "--png-bomb or --slow-bodies") {
		t.Fatalf("--hostile-only alone: exit %d, %s", code, stderr)
	}
	code, stdout, stderr = runCLIErr(t, "bench", "serve", "--url", ts.URL+"/v1/predict", "--hostile-only", "--levels", "1",
		"--duration", "500ms", "--slow-bodies", "3", "--json")
	if code != exitOK {
		t.Fatalf("--hostile-only: exit %d: %s", code, stderr)
	}
	rows = nil
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("--hostile-only: %v: %s", err, stdout)
	}
	if r := rows[0]; r.Real.Requests != 0 || r.Slow == nil || r.Slow.Connections != 3 {
		t.Errorf("--hostile-only: %+v (slow %+v)", r, r.Slow)
	}
}
