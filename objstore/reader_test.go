package objstore_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/internal/fakes3"
	"github.com/multilabel/multilabel/objstore"
)

// TestReaderRanges: a Reader streams an object through one request, serves short
// forward seeks from the stream and long ones from a new range, reads ranges with
// ReadAt, and resumes a failed request from the offset reached (retried with backoff);
// when the retries are spent the error names the object and the offset and is
// ErrUnavailable; a missing object is bad input.
func TestReaderRanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := fakes3.Start(t, "rd")
	st := objstore.New(objstore.Options{Attempts: 3, Backoff: time.Millisecond})
	defer st.Close()
	data := make([]byte, 3<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	u := srv.URL("rd", "shards/big.tar")
	if err := st.Write(ctx, u, data); err != nil {
		t.Fatal(err)
	}
	r, err := st.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if r.Size() != int64(len(data)) {
		t.Fatalf("size %d", r.Size())
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("streamed read: %d bytes, %v", len(got), err)
	}
	if r.Requests != 1 {
		t.Errorf("a sequential read took %d requests, want 1", r.Requests)
	}

	// Seeks: short forward ones stay on the stream, long ones open a new range.
	r2, _ := st.Open(ctx, u)
	defer r2.Close()
	buf := make([]byte, 1000)
	read := func(at int64) {
		t.Helper()
		if _, err := r2.Seek(at, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(r2, buf); err != nil {
			t.Fatalf("read at %d: %v", at, err)
		}
		if !bytes.Equal(buf, data[at:at+1000]) {
			t.Fatalf("wrong bytes at %d", at)
		}
	}
	read(0)
	read(5000) // 4,000 bytes on: through the stream
	if r2.Requests != 1 {
		t.Errorf("a short seek opened a request (%d)", r2.Requests)
	}
	read(2 << 20) // beyond objstore.DefaultSkip: a new range
	read(100)     // backwards: a new range
	if r2.Requests != 3 {
		t.Errorf("%d requests after two long seeks, want 3", r2.Requests)
	}
	p := make([]byte, 777)
	if n, err := r2.ReadAt(p, 123456); err != nil || n != 777 || !bytes.Equal(p, data[123456:123456+777]) {
		t.Fatalf("ReadAt: %d %v", n, err)
	}
	if _, err := r2.ReadAt(p, int64(len(data))-10); err == nil {
		t.Error("ReadAt beyond the end: no error")
	}

	// A request failing mid-object is retried from where the stream was.
	srv.FailNext(2)
	read(2<<20 + 1)
	if !bytes.Equal(buf, data[2<<20+1:2<<20+1001]) {
		t.Fatal("wrong bytes after the retried request")
	}
	srv.FailNext(2)
	if _, err := r2.ReadAt(p, 999); err != nil || !bytes.Equal(p, data[999:999+777]) {
		t.Fatalf("ReadAt after 2 failures: %v", err)
	}

	// Failing longer than the attempts: a clear infrastructure error.
	srv.FailNext(100)
	_, err = r2.Seek(1<<20, io.SeekStart)
	if err == nil {
		_, err = r2.Read(buf)
	}
	if !errkind.IsUnavailable(err) || errkind.IsBadInput(err) || !strings.Contains(err.Error(), "shards/big.tar") ||
		!strings.Contains(err.Error(), "at byte 1048576") || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("read failing 100 times: %v", err)
	}
	if _, err := r2.ReadAt(p, 0); !errkind.IsUnavailable(err) {
		t.Errorf("ReadAt failing: %v", err)
	}
	srv.FailNext(0)
	if _, err := st.Open(ctx, srv.URL("rd", "shards/none.tar")); !errkind.IsBadInput(err) || !strings.Contains(err.Error(), "none.tar") {
		t.Errorf("missing object: %v", err)
	}
}
