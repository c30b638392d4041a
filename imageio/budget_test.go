package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// pngHeader returns the signature and IHDR chunk of a PNG declaring w×h pixels of the
// given bit depth and color type (6: RGBA), followed by an empty IDAT and IEND: enough
// for DecodeConfig, nothing to decode.
func pngIHDR(w, h uint32, depth, colorType, interlace byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		c := append([]byte(typ), data...)
		b.Write(c)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(c))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9], ihdr[12] = depth, colorType, interlace
	chunk("IHDR", ihdr)
	chunk("IDAT", nil)
	chunk("IEND", nil)
	return b.Bytes()
}

// TestPNGBombRefused: the 8,900 × 8,900 16-bit RGBA PNG of issue 17 passes the
// 80-megapixel guard but declares 634 MB of decoded pixels; it is refused from its header.
func TestPNGBombRefused(t *testing.T) {
	t.Parallel()
	bomb := pngIHDR(8900, 8900, 16, 6, 0)
	n, err := DecodedBytes(bomb)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(8900 * 8900 * 8); n != want {
		t.Errorf("DecodedBytes = %d, want %d", n, want)
	}
	if _, err := DecodeBytes(bomb, DecodeOptions{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("DecodeBytes = %v, want ErrTooLarge", err)
	}
	if n, _ := DecodedBytes(pngIHDR(100, 100, 16, 6, 1)); n != 2*100*100*8 {
		t.Errorf("interlaced: %d", n)
	}
	if n, _ := DecodedBytes(pngIHDR(100, 100, 8, 0, 0)); n != 100*100 {
		t.Errorf("8-bit gray: %d", n)
	}
	// A real small image within a lowered limit decodes; above it, it is refused.
	var small bytes.Buffer
	png.Encode(&small, image.NewNRGBA(image.Rect(0, 0, 64, 64)))
	if _, err := DecodeBytes(small.Bytes(), DecodeOptions{MaxDecodedBytes: 64 * 64 * 4}); err != nil {
		t.Errorf("64×64 RGBA under a 16 KiB limit: %v", err)
	}
	if _, err := DecodeBytes(small.Bytes(), DecodeOptions{MaxDecodedBytes: 64*64*4 - 1}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("64×64 RGBA over the limit: %v", err)
	}
}

func TestJPEGDecodedBytes(t *testing.T) {
	t.Parallel()
	img := image.NewYCbCr(image.Rect(0, 0, 64, 48), image.YCbCrSubsampleRatio420)
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	n, err := DecodedBytes(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	// 4:2:0 baseline: 1.5 bytes per pixel.
	if want := int64(64 * 48 * 3 / 2); n != want {
		t.Errorf("DecodedBytes = %d, want %d", n, want)
	}
	// The same file marked progressive (SOF2) also keeps its coefficients.
	p := bytes.Replace(b.Bytes(), []byte{0xFF, 0xC0}, []byte{0xFF, 0xC2}, 1)
	if n, _ := DecodedBytes(p); n != 5*64*48*3/2 {
		t.Errorf("progressive: %d", n)
	}
	gray := image.NewGray(image.Rect(0, 0, 10, 10))
	b.Reset()
	jpeg.Encode(&b, gray, nil)
	if n, _ := DecodedBytes(b.Bytes()); n != 100 {
		t.Errorf("gray: %d", n)
	}
	if bytesPerPixel(color.Palette{color.Black}) != 1 {
		t.Error("palette")
	}
}
