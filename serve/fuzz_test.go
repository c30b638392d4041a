package serve

import (
	"bytes"
	"encoding/json"
	"image/color"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzPredictBody: whatever the body and its content type (single image, multipart with
// any parts, JSON, garbage), POST /v1/predict answers 200 or a JSON 4xx/503 error with
// its kind, never a panic or a 500, and gives back every byte of the decode budget.
func FuzzPredictBody(f *testing.F) {
	img := pngBytes(f, color.RGBA{255, 0, 0, 255})
	ct, mp := multipartBody(f, img, png16(8900, 8900))
	f.Add("image/png", img)
	f.Add("image/png", png16(8900, 8900))
	f.Add("image/png", png16(256, 200))
	f.Add(ct, mp)
	f.Add(ct, mp[:len(mp)/2])
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n\x89PNG\r\n--x--\r\n"))
	f.Add("application/json", []byte(`{"url":"http://x"}`))
	f.Add("", []byte("\xff\xd8\xff\xe0"))
	s, err := New(&fakePredictor{id: "m"}, Options{MaxDecodedBytes: 512 << 10, DecodeBudgetBytes: 1 << 20, MaxImages: 4, BatchDelay: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	h := s.Handler()
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/predict", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		code := rec.Code
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%d: not JSON: %q", code, rec.Body.String())
		}
		switch {
		case code == http.StatusOK:
		case code >= 400 && code < 500 || code == http.StatusServiceUnavailable:
			if m["kind"] == nil || m["error"] == nil {
				t.Fatalf("%d without kind/error: %v", code, m)
			}
		default:
			t.Fatalf("status %d: %v", code, m)
		}
		if n := s.budget.inUse(); n != 0 {
			t.Fatalf("%d bytes of the decode budget still held", n)
		}
	})
}
