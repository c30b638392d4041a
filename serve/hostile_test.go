package serve

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/imageio"
)

// TestPNGBombDecodedSize: the generated bomb is a PNG whose header declares what was
// asked, and whose decoded size (from the header) is 8 bytes a pixel.
func TestPNGBombDecodedSize(t *testing.T) {
	b, err := PNGBomb(300, 200)
	if err != nil {
		t.Fatal(err)
	}
	n, err := imageio.DecodedBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if n != 300*200*8 {
		t.Errorf("decoded bytes %d, want %d", n, 300*200*8)
	}
	img, err := imageio.DecodeBytes(b, imageio.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := img.Bounds(); r.Dx() != 300 || r.Dy() != 200 {
		t.Errorf("decoded %v", r)
	}
	if _, err := PNGBomb(0, 10); err == nil {
		t.Error("0×10 accepted")
	}
}

// TestSlowBodies: trickled bodies are answered 408 at the body deadline and counted.
func TestSlowBodies(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t, &fakePredictor{id: "m"}, Options{BodyTimeout: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan SlowBodyResult, 1)
	go func() { done <- SlowBodies(ctx, strings.TrimPrefix(ts.URL, "http://"), 3, 20*time.Millisecond) }()
	// Every connection ends with its 408, well before ctx does.
	r := <-done
	if r.Connections != 3 || r.Codes["408"] != 3 || r.BytesSent == 0 {
		t.Errorf("%+v, want 3 connections answered 408 after some bytes", r)
	}
}
