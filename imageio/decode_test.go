package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
)

var (
	red   = [3]float32{255, 0, 0}
	green = [3]float32{0, 255, 0}
	blue  = [3]float32{0, 0, 255}
	white = [3]float32{255, 255, 255}
)

// quadrants is the 48×32 test picture: red, green / blue, white (testdata/gen_fixtures.py
// draws the same one).
func quadrants() *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, 48, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 48; x++ {
			c := [4][3]float32{red, green, blue, white}[btoi(y >= 16)*2+btoi(x >= 24)]
			m.SetNRGBA(x, y, color.NRGBA{uint8(c[0]), uint8(c[1]), uint8(c[2]), 255})
		}
	}
	return m
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pixel returns the composited RGB of (x, y) as Fill sees it.
func pixel(img image.Image, x, y int) [3]float32 {
	sc := getScratch()
	defer putScratch(sc)
	var row [3]float32
	sc.reader(img).readRow(y, x, x+1, row[:])
	return row
}

// checkQuadrants asserts the four quadrant centers of img (w×h) have the wanted colors.
func checkQuadrants(t *testing.T, name string, img image.Image, w, h int, want [4][3]float32, tol float32) {
	t.Helper()
	b := img.Bounds()
	if b.Dx() != w || b.Dy() != h {
		t.Fatalf("%s: size %dx%d, want %dx%d", name, b.Dx(), b.Dy(), w, h)
	}
	pts := [4][2]int{{w / 4, h / 4}, {3 * w / 4, h / 4}, {w / 4, 3 * h / 4}, {3 * w / 4, 3 * h / 4}}
	for q, p := range pts {
		got := pixel(img, p[0], p[1])
		for c := 0; c < 3; c++ {
			if d := got[c] - want[q][c]; d > tol || d < -tol {
				t.Errorf("%s: quadrant %d at %v = %v, want %v (±%v)", name, q, p, got, want[q], tol)
				break
			}
		}
	}
}

func encode(t testing.TB, f func(*bytes.Buffer) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jpegBytes(t testing.TB, img image.Image) []byte {
	return encode(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, img, &jpeg.Options{Quality: 90}) })
}

func pngBytes(t testing.TB, img image.Image) []byte {
	return encode(t, func(b *bytes.Buffer) error { return png.Encode(b, img) })
}

func TestDecodeFormats(t *testing.T) {
	t.Parallel()
	q := quadrants()
	std := [4][3]float32{red, green, blue, white}
	gray := image.NewGray(q.Bounds())
	gray16 := image.NewGray16(q.Bounds())
	rgba64 := image.NewNRGBA64(q.Bounds())
	pal := image.NewPaletted(q.Bounds(), color.Palette{color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 255, 0, 255},
		color.NRGBA{0, 0, 255, 255}, color.NRGBA{255, 255, 255, 255}, color.NRGBA{0, 0, 0, 0}})
	alpha := image.NewNRGBA(q.Bounds())
	for y := 0; y < 32; y++ {
		for x := 0; x < 48; x++ {
			c := q.NRGBAAt(x, y)
			gray.SetGray(x, y, color.GrayModel.Convert(c).(color.Gray))
			gray16.SetGray16(x, y, color.Gray16Model.Convert(c).(color.Gray16))
			rgba64.SetNRGBA64(x, y, color.NRGBA64Model.Convert(c).(color.NRGBA64))
			idx := uint8(btoi(y >= 16)*2 + btoi(x >= 24))
			pal.SetColorIndex(x, y, idx)
			if idx == 3 {
				c = color.NRGBA{0, 0, 0, 0} // transparent black: must come out white
			}
			alpha.SetNRGBA(x, y, c)
		}
	}
	gv := func(c [3]float32) [3]float32 { // gray of a color, as Go's Gray model computes it
		g := color.GrayModel.Convert(color.NRGBA{uint8(c[0]), uint8(c[1]), uint8(c[2]), 255}).(color.Gray).Y
		return [3]float32{float32(g), float32(g), float32(g)}
	}
	grays := [4][3]float32{gv(red), gv(green), gv(blue), gv(white)}
	gifFrames := &gif.GIF{Image: []*image.Paletted{pal, image.NewPaletted(q.Bounds(), pal.Palette)}, Delay: []int{0, 0}}
	cases := []struct {
		name, format string
		data         []byte
		want         [4][3]float32
		tol          float32
	}{
		{"jpeg baseline", FormatJPEG, jpegBytes(t, q), std, 40},
		{"jpeg gray", FormatJPEG, jpegBytes(t, gray), grays, 12},
		{"png 8-bit", FormatPNG, pngBytes(t, q), std, 0},
		{"png 16-bit", FormatPNG, pngBytes(t, rgba64), std, 0},
		{"png gray16", FormatPNG, pngBytes(t, gray16), grays, 1},
		{"png paletted", FormatPNG, pngBytes(t, pal), std, 0},
		{"png alpha on white", FormatPNG, pngBytes(t, alpha), std, 0},
		{"gif first frame", FormatGIF, encode(t, func(b *bytes.Buffer) error { return gif.EncodeAll(b, gifFrames) }), std, 0},
		{"bmp", FormatBMP, encode(t, func(b *bytes.Buffer) error { return bmp.Encode(b, q) }), std, 0},
	}
	for _, f := range []string{"progressive.jpg", "cmyk.jpg", "ycc444.jpg", "ycc422.jpg", "lossy.webp", "lossless.webp", "alpha.webp", "lossy_alpha.webp"} {
		data, err := os.ReadFile(filepath.Join("testdata", "fixtures", f))
		if err != nil {
			t.Fatal(err)
		}
		format, tol := FormatJPEG, float32(40)
		if strings.HasSuffix(f, ".webp") {
			format = FormatWebP
		}
		if f == "lossless.webp" || f == "alpha.webp" {
			tol = 0
		}
		cases = append(cases, struct {
			name, format string
			data         []byte
			want         [4][3]float32
			tol          float32
		}{f, format, data, std, tol})
	}
	for _, c := range cases {
		if got := Sniff(c.data); got != c.format {
			t.Errorf("%s: Sniff = %q, want %q", c.name, got, c.format)
		}
		img, err := DecodeBytes(c.data, DecodeOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkQuadrants(t, c.name, img, 48, 32, c.want, c.tol)
	}
}

// exifJPEG inserts an APP1 Exif segment with the given orientation after the SOI marker.
func exifJPEG(jpg []byte, orientation int, bo binary.ByteOrder) []byte {
	var tiff bytes.Buffer
	if bo == binary.LittleEndian {
		tiff.WriteString("II")
	} else {
		tiff.WriteString("MM")
	}
	w := func(v any) { _ = binary.Write(&tiff, bo, v) }
	w(uint16(42))
	w(uint32(8))
	w(uint16(2)) // two entries: an unrelated tag first, then Orientation
	w(uint16(0x010F))
	w(uint16(2))
	w(uint32(4))
	tiff.WriteString("Go!\x00")
	w(uint16(0x0112))
	w(uint16(3))
	w(uint32(1))
	w(uint16(orientation))
	w(uint16(0))
	w(uint32(0)) // no next IFD
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

func TestExifOrientation(t *testing.T) {
	t.Parallel()
	R, G, B, W := red, green, blue, white
	// Displayed quadrants (TL, TR, BL, BR) for each orientation of the stored picture
	// R G / B W, from the EXIF definitions of the 0th row and column.
	want := map[int][4][3]float32{
		1: {R, G, B, W}, 2: {G, R, W, B}, 3: {W, B, G, R}, 4: {B, W, R, G},
		5: {R, B, G, W}, 6: {B, R, W, G}, 7: {W, G, B, R}, 8: {G, W, R, B},
	}
	base := jpegBytes(t, quadrants())
	for o := 1; o <= 8; o++ {
		for _, bo := range []binary.ByteOrder{binary.BigEndian, binary.LittleEndian} {
			data := exifJPEG(base, o, bo)
			if got := ExifOrientation(data); got != o {
				t.Fatalf("orientation %d (%v): read %d", o, bo, got)
			}
			img, err := DecodeBytes(data, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			w, h := 48, 32
			if o >= 5 {
				w, h = 32, 48
			}
			checkQuadrants(t, "orientation "+string(rune('0'+o)), img, w, h, want[o], 40)
		}
	}
	img, err := DecodeBytes(exifJPEG(base, 6, binary.BigEndian), DecodeOptions{IgnoreOrientation: true})
	if err != nil {
		t.Fatal(err)
	}
	checkQuadrants(t, "ignored orientation", img, 48, 32, want[1], 40)
	if got := ExifOrientation(base); got != 1 {
		t.Errorf("no EXIF: orientation %d", got)
	}
	// Bad EXIF must be ignored, not fatal.
	bad := exifJPEG(base, 6, binary.BigEndian)
	bad[12+4] = 0xFF // corrupt the IFD offset
	if _, err := DecodeBytes(bad, DecodeOptions{}); err != nil {
		t.Errorf("corrupt EXIF: %v", err)
	}
}

// pngHeader is a PNG signature and IHDR chunk declaring w×h RGB, then a tiny IDAT.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	return b.Bytes()
}

func TestBombRefusedCheaply(t *testing.T) {
	jb := jpegBytes(t, quadrants())
	// Patch the JPEG's SOF0 to declare 40000×40000.
	i := bytes.Index(jb, []byte{0xFF, 0xC0})
	binary.BigEndian.PutUint16(jb[i+5:], 40000)
	binary.BigEndian.PutUint16(jb[i+7:], 40000)
	bombs := map[string][]byte{"png 50000x50000": pngHeader(50000, 50000), "jpeg 40000x40000": jb}
	for name, data := range bombs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const n = 20
		for range n {
			_, err := DecodeBytes(data, DecodeOptions{})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%s: err %v, want ErrTooLarge", name, err)
			}
		}
		runtime.ReadMemStats(&after)
		perCall := (after.TotalAlloc - before.TotalAlloc) / n
		t.Logf("%s: refused, %d bytes allocated per call", name, perCall)
		if perCall > 256<<10 {
			t.Errorf("%s: %d bytes allocated per refused call, want < 256 KiB", name, perCall)
		}
	}
	// The limit is configurable.
	if _, err := DecodeBytes(pngBytes(t, quadrants()), DecodeOptions{MaxPixels: 100}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxPixels 100: err %v, want ErrTooLarge", err)
	}
}

func TestBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jb := jpegBytes(t, quadrants())
	files := map[string][]byte{
		"truncated.jpg": jb[:len(jb)/2],
		"text.jpg":      []byte("this is not a picture\n"),
		"empty.jpg":     {},
		"header.png":    pngHeader(40, 30)[:20],
		"tiff.jpg":      []byte("II*\x00\x08\x00\x00\x00junk"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		file    string
		want    error
		message string
	}{
		{"truncated.jpg", ErrCorrupt, "truncated"},
		{"text.jpg", ErrUnknownFmt, "looks like text"},
		{"empty.jpg", ErrEmpty, "empty"},
		{"header.png", ErrCorrupt, "png header"},
		{"tiff.jpg", ErrUnknownFmt, "TIFF"},
		{"missing.jpg", fs.ErrNotExist, "no such file"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.file)
		_, err := DecodeFile(path, DecodeOptions{})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.file, err, c.want)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, c.message) {
			t.Errorf("%s: message %q should name the file and say %q", c.file, msg, c.message)
		}
		if err := LoadFile(path, ImageNetSpec(), make([]float32, ImageNetSpec().TensorLen()), DecodeOptions{}); !errors.Is(err, c.want) {
			t.Errorf("LoadFile %s: err %v, want %v", c.file, err, c.want)
		}
	}
}

func FuzzDecodeBytes(f *testing.F) {
	q := quadrants()
	small := image.NewNRGBA(image.Rect(0, 0, 5, 3))
	seeds := [][]byte{
		jpegBytes(f, q), exifJPEG(jpegBytes(f, small), 6, binary.LittleEndian), pngBytes(f, q), pngBytes(f, small),
		encode(f, func(b *bytes.Buffer) error { return gif.Encode(b, small, nil) }),
		encode(f, func(b *bytes.Buffer) error { return bmp.Encode(b, small) }),
		pngHeader(50000, 50000), []byte("hello"), {},
	}
	for _, name := range []string{"cmyk.jpg", "progressive.jpg", "lossy.webp", "alpha.webp"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "fixtures", name)); err == nil {
			seeds = append(seeds, b)
		}
	}
	for _, s := range seeds {
		f.Add(s)
		if len(s) > 40 {
			f.Add(s[:len(s)*2/3])
		}
	}
	spec := Spec{Width: 7, Height: 5, Resize: ResizeShorterCrop, ChannelOrder: "RGB", Scale: 1, Layout: "NCHW"}
	dst := make([]float32, spec.TensorLen())
	f.Fuzz(func(t *testing.T, data []byte) {
		// A small pixel limit bounds the memory any input can make the decoders take.
		img, err := DecodeBytes(data, DecodeOptions{MaxPixels: 1 << 16})
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnknownFmt) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		spec.Fill(img, dst)
	})
}

func FuzzExifOrientation(f *testing.F) {
	base := jpegBytes(f, image.NewGray(image.Rect(0, 0, 8, 8)))
	for o := 1; o <= 8; o++ {
		f.Add(exifJPEG(base, o, binary.BigEndian)[:80])
		f.Add(exifJPEG(base, o, binary.LittleEndian)[:80])
	}
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := ExifOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d out of 1..8", o)
		}
	})
}
