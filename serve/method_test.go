package serve

import (
	"net/http"
	"strings"
	"testing"
)

// TestWrongMethod405: a route asked with another method answers 405 with Allow; an
// unknown path stays 404.
func TestWrongMethod405(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t, &fakePredictor{id: "m1"}, Options{})
	for _, c := range []struct {
		method, path string
		code         int
		allow        string
	}{
		{"GET", "/v1/predict", 405, "POST"},
		{"DELETE", "/v1/model", 405, "GET, HEAD"},
		{"POST", "/healthz", 405, "GET, HEAD"},
		{"PUT", "/", 405, "GET, HEAD"},
		{"GET", "/no/such/route", 404, ""},
	} {
		req, _ := http.NewRequest(c.method, ts.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code || resp.Header.Get("Allow") != c.allow ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d Allow %q (%s), want %d Allow %q", c.method, c.path, resp.StatusCode,
				resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), c.code, c.allow)
		}
	}
}
