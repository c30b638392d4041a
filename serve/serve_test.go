package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakePredictor scores an image by its mean red and green levels, so tests can check that
// each request gets its own image's row back through the batcher.
type fakePredictor struct {
	id      string
	calls   atomic.Int64
	maxSeen atomic.Int64
	delay   time.Duration
}

func (f *fakePredictor) Labels() []string      { return []string{"red", "green", "big label"} }
func (f *fakePredictor) Thresholds() []float64 { return []float64{0.5, 0.5, 0.9} }
func (f *fakePredictor) Info() map[string]any  { return map[string]any{"id": f.id} }
func (f *fakePredictor) Scores(ctx context.Context, imgs []image.Image) ([][]float32, error) {
	f.calls.Add(1)
	if n := int64(len(imgs)); n > f.maxSeen.Load() {
		f.maxSeen.Store(n)
	}
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	out := make([][]float32, len(imgs))
	for i, img := range imgs {
		r, g, _, _ := img.At(0, 0).RGBA()
		out[i] = []float32{float32(r) / 65535, float32(g) / 65535, 0.25}
	}
	return out, nil
}

func pngBytes(t testing.TB, c color.Color) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bombPNG is a valid PNG signature and IHDR declaring w×h pixels, with no pixel data.
func bombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func newTestServer(t *testing.T, p Predictor, opt Options) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(p, opt)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts
}

func post(t *testing.T, url, ctype string, body []byte, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("status %d: body is not JSON: %q", resp.StatusCode, data)
	}
	return resp.StatusCode, m
}

func TestPredictSingleAndMultipart(t *testing.T) {
	_, ts := newTestServer(t, &fakePredictor{id: "m1"}, Options{})
	code, m := post(t, ts.URL+"/v1/predict", "image/png", pngBytes(t, color.RGBA{255, 0, 0, 255}), nil)
	if code != 200 {
		t.Fatalf("status %d: %v", code, m)
	}
	res := m["results"].([]any)[0].(map[string]any)
	labels := res["labels"].([]any)
	if len(labels) != 1 || labels[0].(map[string]any)["label"] != "red" {
		t.Fatalf("want exactly [red], got %v", labels)
	}
	if m["model"] != "m1" {
		t.Fatalf("model id %v", m["model"])
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i, c := range []color.Color{color.RGBA{0, 255, 0, 255}, color.RGBA{255, 255, 0, 255}} {
		w, _ := mw.CreateFormFile("image", fmt.Sprintf("img%d.png", i))
		w.Write(pngBytes(t, c))
	}
	mw.Close()
	code, m = post(t, ts.URL+"/v1/predict?threshold=0.2&top_k=1", mw.FormDataContentType(), body.Bytes(), nil)
	if code != 200 {
		t.Fatalf("multipart status %d: %v", code, m)
	}
	results := m["results"].([]any)
	if len(results) != 2 {
		t.Fatalf("want 2 results, got %d", len(results))
	}
	first := results[0].(map[string]any)
	if first["name"] != "img0.png" {
		t.Fatalf("name %v", first["name"])
	}
	// threshold 0.2 passes green (1.0) and "big label" (0.25); top_k=1 keeps green.
	if l := first["labels"].([]any); len(l) != 1 || l[0].(map[string]any)["label"] != "green" {
		t.Fatalf("img0 labels %v", l)
	}
}

func TestBadRequestsGet4xxAndServerKeepsServing(t *testing.T) {
	_, ts := newTestServer(t, &fakePredictor{id: "m"}, Options{Token: "s3cret"})
	auth := map[string]string{"Authorization": "Bearer s3cret"}
	good := pngBytes(t, color.RGBA{255, 0, 0, 255})
	var jpegTrunc bytes.Buffer
	jpegTrunc.Write([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0})
	cases := []struct {
		name  string
		ctype string
		body  []byte
		hdr   map[string]string
		want  int
	}{
		{"empty body", "image/jpeg", nil, auth, 400},
		{"25 MB body", "image/jpeg", make([]byte, 25<<20), auth, 413},
		{"truncated jpeg", "image/jpeg", jpegTrunc.Bytes(), auth, 422},
		{"truncated png", "image/png", good[:len(good)/2], auth, 422},
		{"text as image", "image/jpeg", []byte("hello, I am not an image\n"), auth, 415},
		{"50000x50000 png header", "image/png", bombPNG(50000, 50000), auth, 413},
		{"wrong content type", "text/plain", good, auth, 415},
		{"json urls", "application/json", []byte(`{"urls":["http://127.0.0.1/x.jpg"]}`), auth, 415},
		{"no token", "image/png", good, nil, 401},
		{"wrong token", "image/png", good, map[string]string{"Authorization": "Bearer nope"}, 401},
		{"bad top_k", "image/png", good, auth, 400},
		{"multipart no boundary", "multipart/form-data", good, auth, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url := ts.URL + "/v1/predict"
			if c.name == "bad top_k" {
				url += "?top_k=-3"
			}
			start := time.Now()
			code, m := post(t, url, c.ctype, c.body, c.hdr)
			if code != c.want {
				t.Fatalf("status %d, want %d (%v)", code, c.want, m)
			}
			if m["error"] == "" || m["kind"] == "" {
				t.Fatalf("error body lacks error/kind: %v", m)
			}
			if c.name == "50000x50000 png header" && time.Since(start) > 5*time.Second {
				t.Fatalf("bomb header took %v", time.Since(start))
			}
		})
	}
	for _, p := range []string{"/../../etc/passwd", "/v1/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/static/..%2f..%2fetc/passwd", "/v1/predict/../../go.mod"} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 300 || resp.StatusCode >= 500 || strings.Contains(string(data), "root:") || strings.Contains(string(data), "module ") {
			t.Fatalf("path %q: status %d body %q", p, resp.StatusCode, data)
		}
	}
	code, _ := post(t, ts.URL+"/v1/predict", "image/png", good, auth)
	if code != 200 {
		t.Fatalf("server stopped serving after bad requests: %d", code)
	}
}

func TestDynamicBatchingGathersConcurrentRequests(t *testing.T) {
	p := &fakePredictor{id: "m", delay: 5 * time.Millisecond}
	_, ts := newTestServer(t, p, Options{BatchDelay: 20 * time.Millisecond, MaxBatch: 64})
	var wg sync.WaitGroup
	errs := make(chan string, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			red := uint8(i * 8)
			code, m := post(t, ts.URL+"/v1/predict", "image/png", pngBytes(t, color.RGBA{red, 0, 0, 255}), nil)
			if code != 200 {
				errs <- fmt.Sprintf("status %d", code)
				return
			}
			got := m["results"].([]any)[0].(map[string]any)["scores"].([]any)[0].(map[string]any)["score"].(float64)
			if want := float64(red) / 255; got < want-1e-6 || got > want+1e-6 {
				errs <- fmt.Sprintf("request %d got score %v want %v (rows mixed up)", i, got, want)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if p.maxSeen.Load() < 2 {
		t.Fatalf("no batching happened: largest batch %d over %d calls", p.maxSeen.Load(), p.calls.Load())
	}
}

func TestQueueFullAnswers503(t *testing.T) {
	p := &fakePredictor{id: "m", delay: 300 * time.Millisecond}
	_, ts := newTestServer(t, p, Options{QueueSize: 2, MaxBatch: 1, BatchDelay: time.Millisecond})
	var wg sync.WaitGroup
	var n503, n200 atomic.Int64
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := post(t, ts.URL+"/v1/predict", "image/png", pngBytes(t, color.RGBA{1, 2, 3, 255}), nil)
			switch code {
			case 503:
				n503.Add(1)
			case 200:
				n200.Add(1)
			}
		}()
	}
	wg.Wait()
	if n503.Load() == 0 || n200.Load() == 0 || n503.Load()+n200.Load() != 8 {
		t.Fatalf("want a mix of 200 and 503, got %d ok, %d busy", n200.Load(), n503.Load())
	}
}

func TestReloadWithoutFailedRequests(t *testing.T) {
	gen := atomic.Int64{}
	var s *Server
	opt := Options{Token: "t", Reload: func(ctx context.Context) (Predictor, error) {
		return &fakePredictor{id: fmt.Sprintf("m%d", gen.Add(1)), delay: time.Millisecond}, nil
	}}
	s, ts := newTestServer(t, &fakePredictor{id: "m0"}, opt)
	auth := map[string]string{"Authorization": "Bearer t"}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad atomic.Int64
	var total atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, _ := post(t, ts.URL+"/v1/predict", "image/png", pngBytes(t, color.RGBA{9, 9, 9, 255}), auth)
				total.Add(1)
				if code != 200 {
					bad.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 5; i++ {
		time.Sleep(20 * time.Millisecond)
		code, m := post(t, ts.URL+"/v1/reload", "", nil, auth)
		if code != 200 {
			t.Fatalf("reload: %d %v", code, m)
		}
	}
	if err := s.ReloadNow(context.Background()); err != nil { // the SIGHUP path
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d of %d requests failed during reloads", bad.Load(), total.Load())
	}
	code, m := post(t, ts.URL+"/v1/reload", "", nil, nil)
	if code != 401 {
		t.Fatalf("reload without token: %d %v", code, m)
	}
	resp, _ := http.Get(ts.URL + "/metrics")
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The same series as before client_golang; it writes label names in sorted order.
	for _, want := range []string{"multilabel_model_reloads_total 6", `multilabel_http_requests_total{code="200",route="/v1/predict"}`, "multilabel_batch_size_bucket", `multilabel_errors_total{kind="unauthorized"} 1`, "multilabel_http_request_duration_seconds_bucket"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("metrics lack %q:\n%s", want, data)
		}
	}
}

func TestModelHealthReadyAndPage(t *testing.T) {
	_, ts := newTestServer(t, &fakePredictor{id: "abc"}, Options{})
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/v1/model": "big label", "/": "<!doctype html>"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(data), want) {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, data)
		}
		if path == "/" && (strings.Contains(string(data), "http://") || strings.Contains(string(data), "https://")) {
			t.Fatalf("page references an external resource")
		}
	}
	code, _ := post(t, ts.URL+"/v1/reload", "", nil, nil)
	if code != 403 {
		t.Fatalf("reload without a configured token must be forbidden, got %d", code)
	}
}

func TestLoadTestCountsAndQuantiles(t *testing.T) {
	_, ts := newTestServer(t, &fakePredictor{id: "m"}, Options{})
	body := pngBytes(t, color.RGBA{200, 10, 10, 255})
	r := LoadTest(context.Background(), ts.URL+"/v1/predict", "image/png", body, 4, 10*time.Second, 40)
	if r.Requests != 40 || r.Non2xx != 0 || r.Errors != 0 {
		t.Fatalf("want 40 ok requests, got %+v", r)
	}
	if r.P50 <= 0 || r.P99 < r.P50 || r.Throughput <= 0 {
		t.Fatalf("bad quantiles: %+v", r)
	}
	bad := LoadTest(context.Background(), ts.URL+"/v1/predict", "text/plain", body, 2, 10*time.Second, 10)
	if bad.Non2xx != 10 {
		t.Fatalf("wrong content type must count as non-2xx: %+v", bad)
	}
}
