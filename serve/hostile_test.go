package serve

import (
	"testing"

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
