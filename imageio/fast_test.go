package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// withExif inserts an APP1 segment with EXIF orientation o right after the SOI marker.
func withExif(jb []byte, o uint16) []byte {
	tiff := make([]byte, 8+2+12+4)
	copy(tiff, "II*\x00")
	binary.LittleEndian.PutUint32(tiff[4:], 8)
	binary.LittleEndian.PutUint16(tiff[8:], 1)
	e := tiff[10:]
	binary.LittleEndian.PutUint16(e[0:], 0x0112)
	binary.LittleEndian.PutUint16(e[2:], 3)
	binary.LittleEndian.PutUint32(e[4:], 1)
	binary.LittleEndian.PutUint16(e[8:], o)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	out := append([]byte{}, jb[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, jb[2:]...)
}

func testJPEG(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fakeFast is a FastJPEGFunc standing in for a native decoder: it records its arguments,
// honours maxPixels from the header, and decodes with the pure-Go decoder.
type fakeFast struct {
	calls            int
	minW, minH       int
	maxPixels        int64
	fail             error
	decodedOversized bool
}

func (f *fakeFast) decode(data []byte, minW, minH int, maxPixels int64, buf *JPEGBuffer) (image.Image, error) {
	f.calls++
	f.minW, f.minH, f.maxPixels = minW, minH, maxPixels
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, ErrTooLarge
	}
	if f.fail != nil {
		return nil, f.fail
	}
	return jpeg.Decode(bytes.NewReader(data))
}

func registerFake(t *testing.T, f *fakeFast) {
	prev := fastJPEG.Load()
	RegisterFastJPEG("fake", f.decode)
	t.Cleanup(func() { fastJPEG.Store(prev) })
}

func TestMinDecodeSize(t *testing.T) {
	t.Parallel()
	s := ImageNetSpec()
	if w, h := s.minDecodeSize(1); w != 512 || h != 512 {
		t.Errorf("ImageNet: %d×%d, want 512×512 (2 × 256)", w, h)
	}
	s.ResizeShorter = 0
	if w, h := s.minDecodeSize(6); w != 448 || h != 448 {
		t.Errorf("no ResizeShorter: %d×%d, want 448×448", w, h)
	}
	q := Spec{Width: 300, Height: 100, Resize: ResizeSquish, ChannelOrder: "RGB", Scale: 1, Layout: "NCHW"}
	if w, h := q.minDecodeSize(1); w != 600 || h != 200 {
		t.Errorf("squish: %d×%d, want 600×200", w, h)
	}
	if w, h := q.minDecodeSize(6); w != 200 || h != 600 {
		t.Errorf("squish, rotated 90°: %d×%d (stored), want 200×600", w, h)
	}
}

func TestDecodeForSpecHook(t *testing.T) {
	f := &fakeFast{}
	registerFake(t, f)
	if FastJPEG() != "fake" {
		t.Fatalf("FastJPEG() = %q", FastJPEG())
	}
	s := ImageNetSpec()
	jb := testJPEG(t, 64, 32)

	// The hook gets the size the resize needs and the pixel limit.
	img, err := DecodeForSpec(jb, s, DecodeOptions{MaxPixels: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if f.calls != 1 || f.minW != 512 || f.minH != 512 || f.maxPixels != 5000 {
		t.Errorf("hook called %d times with min %d×%d, max %d", f.calls, f.minW, f.minH, f.maxPixels)
	}
	if img.Bounds().Dx() != 64 {
		t.Errorf("bounds %v", img.Bounds())
	}

	// EXIF orientation still applies to what the hook returns.
	img, err = DecodeForSpec(withExif(jb, 6), s, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 32 || b.Dy() != 64 {
		t.Errorf("orientation 6: bounds %v, want 32×64", b)
	}
	img, err = DecodeForSpec(withExif(jb, 6), s, DecodeOptions{IgnoreOrientation: true})
	if err != nil || img.Bounds().Dx() != 64 {
		t.Errorf("orientation ignored: %v %v", img.Bounds(), err)
	}

	// The bomb guard: the limit reaches the hook, and the error is the usual one.
	if _, err := DecodeForSpec(jb, s, DecodeOptions{MaxPixels: 100}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxPixels 100: %v, want ErrTooLarge", err)
	}
	dst := make([]float32, s.TensorLen())
	if err := LoadBytes(jb, s, dst, DecodeOptions{MaxPixels: 100}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("LoadBytes, MaxPixels 100: %v, want ErrTooLarge", err)
	}

	// A failing hook falls back to the pure-Go decoder with the same result.
	f.fail = ErrFastDecline
	want := make([]float32, s.TensorLen())
	ref, err := DecodeBytes(jb, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Fill(ref, want)
	if err := LoadBytes(jb, s, dst, DecodeOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if want[i] != dst[i] {
			t.Fatalf("fallback differs at %d: %v vs %v", i, dst[i], want[i])
		}
	}
	// Errors of the pure-Go decoder come through unchanged; non-JPEG formats skip the hook.
	calls := f.calls
	if _, err := DecodeForSpec(jb[:len(jb)/3], s, DecodeOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated: %v, want ErrCorrupt", err)
	}
	if _, err := DecodeForSpec([]byte("GIF89a"), s, DecodeOptions{}); err == nil {
		t.Error("bad GIF accepted")
	}
	if f.calls != calls+1 {
		t.Errorf("hook called %d times for a truncated JPEG and a GIF, want 1", f.calls-calls)
	}
	// An invalid spec is an error, not a panic.
	if _, err := DecodeForSpec(jb, Spec{}, DecodeOptions{}); err == nil {
		t.Error("invalid spec accepted")
	}

	// Unregistered: the pure-Go decoder alone.
	RegisterFastJPEG("", nil)
	if FastJPEG() != "" {
		t.Errorf("FastJPEG() = %q after removal", FastJPEG())
	}
	calls = f.calls
	if _, err := DecodeForSpec(jb, s, DecodeOptions{}); err != nil || f.calls != calls {
		t.Errorf("unregistered: err %v, hook calls %d", err, f.calls-calls)
	}
}

// A panicking native decoder costs a retry, not the process.
func TestDecodeForSpecHookPanics(t *testing.T) {
	prev := fastJPEG.Load()
	t.Cleanup(func() { fastJPEG.Store(prev) })
	RegisterFastJPEG("boom", func([]byte, int, int, int64, *JPEGBuffer) (image.Image, error) { panic("boom") })
	img, err := DecodeForSpec(testJPEG(t, 16, 16), ImageNetSpec(), DecodeOptions{})
	if err != nil || img.Bounds().Dx() != 16 {
		t.Fatalf("got %v, %v", img, err)
	}
}

func ExampleLoadBytes() {
	// jpegData would come from a file or a request body.
	var b bytes.Buffer
	_ = jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 320, 240)), nil)
	s := ImageNetSpec()
	dst := make([]float32, s.TensorLen())
	// A JPEG goes through the registered native decoder (import imageio/turbo), scaled in
	// the DCT domain when it is much larger than the model input, else the pure-Go one.
	if err := LoadBytes(b.Bytes(), s, dst, DecodeOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(dst), "values:", s.Layout, s.Width, "×", s.Height)
	// Output: 150528 values: NCHW 224 × 224
}
