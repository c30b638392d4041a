package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// png16 is a PNG header declaring w×h 16-bit RGBA pixels (8 bytes each decoded), with no
// pixel data: the "616 KB PNG that decodes to 634 MB" of issue 17, minus its payload.
func png16(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 16, 6
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func multipartBody(t testing.TB, parts ...[]byte) (string, []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i, p := range parts {
		w, err := mw.CreateFormFile("image", fmt.Sprintf("p%d.png", i))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p)
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

// TestDecodedBytesBomb: the 8,900 × 8,900 16-bit PNG passes the 80-megapixel guard but is
// refused with 413 from its header, alone or 32 times in one multipart request, and the
// server keeps serving.
func TestDecodedBytesBomb(t *testing.T) {
	t.Parallel()
	s, ts := newTestServer(t, &fakePredictor{id: "m"}, Options{})
	bomb := png16(8900, 8900)
	code, m := post(t, ts.URL+"/v1/predict", "image/png", bomb, nil)
	if code != http.StatusRequestEntityTooLarge || m["kind"] != "too_many_decoded_bytes" {
		t.Fatalf("bomb: %d %v", code, m)
	}
	ct, body := multipartBody(t, repeat(bomb, 32)...)
	if code, m := post(t, ts.URL+"/v1/predict", ct, body, nil); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("32-part bomb: %d %v", code, m)
	}
	if code, m := post(t, ts.URL+"/v1/predict", "image/png", pngBytes(t, color.RGBA{255, 0, 0, 255}), nil); code != http.StatusOK {
		t.Fatalf("real image after the bombs: %d %v", code, m)
	}
	if n := s.budget.inUse(); n != 0 {
		t.Errorf("%d bytes of the decode budget still held", n)
	}
}

func repeat(b []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// TestRequestOverBudget413: a multipart request whose images pass the per-image limit
// but together decode to more than the whole decode budget is refused with 413 from
// its headers, before any is decoded and without waiting for room that can never come
// (before: the first parts were decoded, then the request waited DecodeWait and got
// 503); requests that fit are served.
func TestRequestOverBudget413(t *testing.T) {
	t.Parallel()
	s, ts := newTestServer(t, &fakePredictor{id: "m"}, Options{MaxDecodedBytes: 512 << 10, DecodeBudgetBytes: 1 << 20, DecodeWait: 50 * time.Millisecond})
	part := png16(256, 200) // 400 KiB decoded: under the 512 KiB per image
	ct, body := multipartBody(t, repeat(part, 3)...)
	code, m := post(t, ts.URL+"/v1/predict", ct, body, nil)
	if code != http.StatusRequestEntityTooLarge || m["kind"] != "too_many_decoded_bytes" || !strings.Contains(fmt.Sprint(m["error"]), "3 images") {
		t.Errorf("3 × 400 KiB against a 1 MiB budget: %d %v", code, m)
	}
	if n := s.budget.inUse(); n != 0 {
		t.Errorf("%d bytes of the decode budget still held", n)
	}
	img := pngBytes(t, color.RGBA{0, 0, 255, 255})
	ct, body = multipartBody(t, img, img, img)
	if code, m := post(t, ts.URL+"/v1/predict", ct, body, nil); code != http.StatusOK {
		t.Errorf("3 small images: %d %v", code, m)
	}
}

// blockingPredictor holds every Scores call until release is closed.
type blockingPredictor struct {
	fakePredictor
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingPredictor) Scores(ctx context.Context, imgs []image.Image) ([][]float32, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return b.fakePredictor.Scores(ctx, imgs)
}

// TestDecodeBudget503: while the server-wide decode budget is held by a request in
// flight, another request waits DecodeWait, then gets 503; once the first finishes the
// budget is free again.
func TestDecodeBudget503(t *testing.T) {
	t.Parallel()
	p := &blockingPredictor{fakePredictor: fakePredictor{id: "m"}, entered: make(chan struct{}), release: make(chan struct{})}
	img := pngBytes(t, color.RGBA{0, 255, 0, 255}) // 8×8 RGBA: 256 decoded bytes
	s, ts := newTestServer(t, p, Options{MaxDecodedBytes: 256, DecodeBudgetBytes: 256, DecodeWait: 50 * time.Millisecond, BatchDelay: -1})
	done := make(chan int, 1)
	go func() {
		code, _ := post(t, ts.URL+"/v1/predict", "image/png", img, nil)
		done <- code
	}()
	<-p.entered
	if code, m := post(t, ts.URL+"/v1/predict", "image/png", img, nil); code != http.StatusServiceUnavailable || m["kind"] != "decode_budget" {
		t.Errorf("second request while the budget is held: %d %v", code, m)
	}
	close(p.release)
	if code := <-done; code != http.StatusOK {
		t.Errorf("first request: %d", code)
	}
	if n := s.budget.inUse(); n != 0 {
		t.Errorf("%d bytes still held", n)
	}
	if code, m := post(t, ts.URL+"/v1/predict", "image/png", img, nil); code != http.StatusOK {
		t.Errorf("after release: %d %v", code, m)
	}
}

// TestSlowBodyHoldsNoSlot: with one concurrency slot, a client sending its body at a
// trickle (once: every slot held for 30 s, everyone else 429) does not keep others out,
// and is cut off at BodyTimeout with 408.
func TestSlowBodyHoldsNoSlot(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t, &fakePredictor{id: "m"}, Options{MaxConcurrent: 1, BodyTimeout: 300 * time.Millisecond})
	// httptest servers do not set read deadlines themselves; the handler's does.
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n\x89PN")
	time.Sleep(50 * time.Millisecond) // the handler is now reading the body
	img := pngBytes(t, color.RGBA{255, 0, 0, 255})
	for i := range 3 {
		if code, m := post(t, ts.URL+"/v1/predict", "image/png", img, nil); code != http.StatusOK {
			t.Fatalf("request %d beside a slow upload: %d %v", i, code, m)
		}
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("slow upload: %d, want 408", resp.StatusCode)
	}
}

// TestMetricsAuth: with MetricsAuth, /metrics needs the token too.
func TestMetricsAuth(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t, &fakePredictor{id: "m"}, Options{Token: "s3cret", MetricsAuth: true})
	get := func(auth string) int {
		req, _ := http.NewRequest("GET", ts.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get(""); c != http.StatusUnauthorized {
		t.Errorf("no token: %d", c)
	}
	if c := get("s3cret"); c != http.StatusOK {
		t.Errorf("token: %d", c)
	}
}

// TestBombRefusedFromHeader: an image whose header declares too many decoded bytes is
// refused as soon as the header has arrived, alone or as the first part of a multipart
// request: the server neither reads nor waits for the rest of the body (here, never
// sent; the body deadline is far beyond the test's wait), and closes the connection.
func TestBombRefusedFromHeader(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t, &fakePredictor{id: "m"}, Options{BodyTimeout: 5 * time.Minute})
	bomb := png16(8900, 8900)
	ct, mp := multipartBody(t, repeat(bomb, 32)...)
	for _, c := range []struct {
		name, ct string
		head     []byte // what the client sends of a 10 MB body before it stalls
	}{
		{"image body", "image/png", bomb},
		{"multipart", ct, mp[:bytes.Index(mp, bomb)+len(bomb)]},
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", c.ct, 10<<20)
		conn.Write(c.head)
		conn.SetReadDeadline(time.Now().Add(time.Minute))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
			t.Errorf("%s: %d, close %v; want 413 and the connection closed", c.name, resp.StatusCode, resp.Close)
		}
	}
}

// TestContentLengthOverLimit: a body announced larger than MaxBodyBytes is refused
// before any of it is read.
func TestContentLengthOverLimit(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t, &fakePredictor{id: "m"}, Options{MaxBodyBytes: 1000, BodyTimeout: 5 * time.Minute})
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1001\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("%d, want 413", resp.StatusCode)
	}
}

// TestRetireAfterInFlight: a swapped-out predictor is handed to OnRetire only once the
// request in flight on it has finished (not before, not after a fixed delay), with
// batching on and off; new requests meanwhile go to the new one.
func TestRetireAfterInFlight(t *testing.T) {
	t.Parallel()
	for _, delay := range []time.Duration{3 * time.Millisecond, -1} {
		old := &blockingPredictor{fakePredictor: fakePredictor{id: "old"}, entered: make(chan struct{}), release: make(chan struct{})}
		retired := make(chan Predictor, 2)
		s, ts := newTestServer(t, old, Options{BatchDelay: delay, OnRetire: func(p Predictor) { retired <- p }})
		img := pngBytes(t, color.RGBA{255, 0, 0, 255})
		done := make(chan int, 1)
		go func() {
			code, _ := post(t, ts.URL+"/v1/predict", "image/png", img, nil)
			done <- code
		}()
		<-old.entered
		if err := s.Swap(&fakePredictor{id: "new"}); err != nil {
			t.Fatal(err)
		}
		if code, m := post(t, ts.URL+"/v1/predict", "image/png", img, nil); code != http.StatusOK || m["model"] != "new" {
			t.Errorf("delay %v: request after the swap: %d %v", delay, code, m)
		}
		select {
		case <-retired:
			t.Fatalf("delay %v: old predictor retired while a request was in flight on it", delay)
		default:
		}
		close(old.release)
		if code := <-done; code != http.StatusOK {
			t.Errorf("delay %v: in-flight request: %d", delay, code)
		}
		select {
		case p := <-retired:
			if p != Predictor(old) {
				t.Errorf("delay %v: retired %v, want the old predictor", delay, p.Info())
			}
		case <-time.After(time.Minute):
			t.Fatalf("delay %v: old predictor never retired", delay)
		}
		// Swapping with nothing in flight retires at once.
		if err := s.Swap(&fakePredictor{id: "third"}); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-retired:
			if p.Info()["id"] != "new" {
				t.Errorf("delay %v: retired %v, want new", delay, p.Info())
			}
		case <-time.After(time.Minute):
			t.Fatalf("delay %v: idle predictor never retired", delay)
		}
	}
}

// TestReadImageBuffer: the body buffer grows with the bytes that arrive, not with the
// announced length: 10 bytes of a body announced at 1 MiB hold 4 KiB (was 64 KiB, times
// 256 slow connections), and an image that arrives whole fits one buffer sized from its
// announced length.
func TestReadImageBuffer(t *testing.T) {
	t.Parallel()
	s, err := New(&fakePredictor{id: "m"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, aerr := s.readImage(bytes.NewReader(make([]byte, 10)), "", 1<<20)
	if aerr != nil || len(got) != 10 || cap(got) > 4<<10 {
		t.Errorf("10 bytes announced as 1 MiB: len %d cap %d, %v", len(got), cap(got), aerr)
	}
	data := bytes.Repeat([]byte{7}, 32433)
	got, aerr = s.readImage(bytes.NewReader(data), "", int64(len(data)))
	if aerr != nil || !bytes.Equal(got, data) || cap(got) > 48<<10 {
		t.Errorf("32,433 bytes: len %d cap %d, %v", len(got), cap(got), aerr)
	}
	data = bytes.Repeat([]byte{7}, 300<<10)
	got, aerr = s.readImage(bytes.NewReader(data), "", -1)
	if aerr != nil || !bytes.Equal(got, data) {
		t.Errorf("300 KiB without a length: len %d, %v", len(got), aerr)
	}
}
