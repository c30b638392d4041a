package serve

import (
	"bufio"
	"context"
	"fmt"
	"image/color"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// sendRefused starts a request the server refuses with 413 from its first bytes (a PNG
// bomb's header, of a body announced at 10 MB and never sent further) and returns a
// channel that gets its status code (0 on a transport error) once it is answered.
func sendRefused(t *testing.T, url string) <-chan int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n", 10<<20)
	conn.Write(png16(8900, 8900))
	got := make(chan int, 1)
	go func() {
		conn.SetReadDeadline(time.Now().Add(5 * time.Minute))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			got <- 0
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	return got
}

// waitHeld waits until the refusal delay holds n requests.
func waitHeld(t *testing.T, s *Server, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); testutil.ToFloat64(s.metrics.refuseHeld) != float64(n); {
		if time.Now().After(deadline) {
			t.Fatalf("refusal delay holds %v requests, want %d", testutil.ToFloat64(s.metrics.refuseHeld), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func answered(c <-chan int) (int, bool) {
	select {
	case code := <-c:
		return code, true
	default:
		return 0, false
	}
}

// TestRefuseDelay: a request refused with 413 — from an image header, from its
// Content-Length, or for the decode budget after its body was read — is answered no
// sooner than RefuseDelay after it was sent; other refusals (400) are not delayed.
func TestRefuseDelay(t *testing.T) {
	t.Parallel()
	const delay = 150 * time.Millisecond
	_, ts := newTestServer(t, &fakePredictor{id: "m"}, Options{RefuseDelay: delay, MaxBodyBytes: 1 << 20, MaxDecodedBytes: 4 << 20,
		DecodeBudgetBytes: 4 << 20, BodyTimeout: 5 * time.Minute})
	start := time.Now()
	if code := <-sendRefused(t, ts.URL); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("bomb header: %d, want 413", code)
	}
	if d := time.Since(start); d < delay {
		t.Errorf("bomb header refused after %v, before the %v delay", d, delay)
	}
	ct, body := multipartBody(t, repeat(png16(1000, 300), 2)...) // 2.4 MB each, 4.8 MB together: over the budget
	for _, c := range []struct {
		name, ct string
		body     []byte
		want     int
	}{
		{"content-length", "image/png", make([]byte, 1<<20+1), http.StatusRequestEntityTooLarge},
		{"over the budget", ct, body, http.StatusRequestEntityTooLarge},
		{"bad query", "image/png", []byte("x"), http.StatusBadRequest},
	} {
		url := ts.URL + "/v1/predict"
		if c.want == http.StatusBadRequest {
			url += "?top_k=x"
		}
		start := time.Now()
		code, m := post(t, url, c.ct, c.body, nil)
		d := time.Since(start)
		if code != c.want {
			t.Fatalf("%s: %d %v, want %d", c.name, code, m, c.want)
		}
		if c.want == http.StatusRequestEntityTooLarge && d < delay {
			t.Errorf("%s: refused after %v, before the %v delay", c.name, d, delay)
		}
	}
}

// TestRefuseDelayCap: while the refusal delay holds its maximum, a further refusal is
// answered at once and counted; real requests are answered meanwhile; a reload retires
// the old model without waiting on the held request; ReleaseRefusals answers it at once
// (the delay here is far longer than the test's waits, so an answer proves each point).
func TestRefuseDelayCap(t *testing.T) {
	t.Parallel()
	retired := make(chan Predictor, 1)
	s, ts := newTestServer(t, &fakePredictor{id: "old"}, Options{RefuseDelay: time.Hour, MaxRefuseHeld: 1, BodyTimeout: 5 * time.Minute,
		OnRetire: func(p Predictor) { retired <- p }})
	t.Cleanup(s.ReleaseRefusals) // before the server's own cleanup, which waits on requests
	held := sendRefused(t, ts.URL)
	waitHeld(t, s, 1)
	if code, m := post(t, ts.URL+"/v1/predict", "image/png", pngBytes(t, color.RGBA{255, 0, 0, 255}), nil); code != http.StatusOK {
		t.Fatalf("real request while a refusal is held: %d %v", code, m)
	}
	select {
	case code := <-sendRefused(t, ts.URL):
		if code != http.StatusRequestEntityTooLarge {
			t.Fatalf("refusal beyond the cap: %d, want 413", code)
		}
	case <-time.After(time.Minute):
		t.Fatal("a refusal beyond MaxRefuseHeld was held")
	}
	if n := testutil.ToFloat64(s.metrics.refuseFull); n != 1 {
		t.Errorf("multilabel_refusals_undelayed_total = %v, want 1", n)
	}
	if err := s.Swap(&fakePredictor{id: "new"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-retired:
	case <-time.After(time.Minute):
		t.Fatal("the old model was not retired while a refusal was held")
	}
	if code, ok := answered(held); ok {
		t.Fatalf("held refusal answered (%d) before its delay or a release", code)
	}
	s.ReleaseRefusals()
	select {
	case code := <-held:
		if code != http.StatusRequestEntityTooLarge {
			t.Fatalf("released refusal: %d, want 413", code)
		}
	case <-time.After(time.Minute):
		t.Fatal("ReleaseRefusals did not answer the held refusal")
	}
	waitHeld(t, s, 0)
	select {
	case <-sendRefused(t, ts.URL):
	case <-time.After(time.Minute):
		t.Fatal("a refusal after ReleaseRefusals was held")
	}
}

// TestRefuseDelayShutdown: a graceful shutdown with ReleaseRefusals registered does not
// wait on a held refusal, which still gets its 413.
func TestRefuseDelayShutdown(t *testing.T) {
	t.Parallel()
	s, err := New(&fakePredictor{id: "m"}, Options{RefuseDelay: time.Hour, BodyTimeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(s.Handler())
	ts.Config.RegisterOnShutdown(s.ReleaseRefusals)
	ts.Start()
	defer ts.Close()
	held := sendRefused(t, ts.URL)
	waitHeld(t, s, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ts.Config.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown waited on the held refusal: %v", err)
	}
	if code := <-held; code != http.StatusRequestEntityTooLarge {
		t.Errorf("held refusal at shutdown: %d, want 413", code)
	}
}
