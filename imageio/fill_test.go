package imageio

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/internal/sharedtest"
)

// synthetic reproduces testdata/gen_resize_ref.py's integer test pattern exactly.
func synthetic(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				v := x*(3+c) + y*(5-c) + ((x*31+y*17+c*7)*(x^y)%23)*4 + ((x/8+y/8)%2)*90 + c*40
				m.Pix[m.PixOffset(x, y)+c] = uint8(v % 256)
			}
			m.Pix[m.PixOffset(x, y)+3] = 255
		}
	}
	return m
}

// readNpyU8 reads a C-order uint8 .npy file.
func readNpyU8(t *testing.T, path string) ([]uint8, []int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 10 || string(b[1:6]) != "NUMPY" {
		t.Fatalf("%s: not a .npy file", path)
	}
	var hl, off int
	if b[6] == 1 {
		hl, off = int(binary.LittleEndian.Uint16(b[8:])), 10
	} else {
		hl, off = int(binary.LittleEndian.Uint32(b[8:])), 12
	}
	hdr := string(b[off : off+hl])
	if !strings.Contains(hdr, "'|u1'") || strings.Contains(hdr, "'fortran_order': True") {
		t.Fatalf("%s: want C-order uint8, header %s", path, hdr)
	}
	s := hdr[strings.Index(hdr, "(")+1 : strings.Index(hdr, ")")]
	var shape []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			shape = append(shape, n)
		}
	}
	return b[off+hl:], shape
}

// rawSpec gives RGB 0..255 NHWC values, comparable with Pillow's uint8 output.
func rawSpec(w, h int, mode string, shorter int) Spec {
	return Spec{Width: w, Height: h, Resize: mode, ResizeShorter: shorter, ChannelOrder: "RGB", Scale: 255, Layout: "NHWC"}
}

func diffStats(got []float32, want []uint8) (mean, maxd float64) {
	for i, w := range want {
		d := math.Abs(float64(got[i]) - float64(w))
		mean += d
		maxd = max(maxd, d)
	}
	return mean / float64(len(want)), maxd
}

// TestFillMatchesPillow compares Fill with Pillow 9.4's BILINEAR resize (reference arrays
// made by testdata/gen_resize_ref.py). Pillow rounds to uint8 after each of its two
// passes, Fill keeps float32, so differences of up to about one level are expected;
// measured: mean abs difference 0.27–0.30 levels, max 1.0 (of 255; 0 for an identity resize).
func TestFillMatchesPillow(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		sw, sh        int
		mode          string
		w, h, shorter int
	}{
		{"land_crop64", 301, 203, ResizeShorterCrop, 64, 64, 72},
		{"land_squish", 301, 203, ResizeSquish, 50, 90, 0},
		{"land_up", 151, 101, ResizeSquish, 180, 120, 0},
		{"port_crop", 151, 229, ResizeShorterCrop, 48, 40, 56},
		{"port_same", 151, 229, ResizeShorterCrop, 100, 120, 151},
		{"land_box", 301, 203, "box", 64, 48, 0}, // a crop box, as Augment's random crop uses
	}
	for _, c := range cases {
		want, shape := readNpyU8(t, filepath.Join("testdata", "resize_ref", c.name+".npy"))
		if fmt.Sprint(shape) != fmt.Sprint([]int{c.h, c.w, 3}) {
			t.Fatalf("%s: reference shape %v", c.name, shape)
		}
		s := rawSpec(c.w, c.h, c.mode, c.shorter)
		got := make([]float32, s.TensorLen())
		if c.mode == "box" {
			sc := getScratch()
			copy(got, sc.resample(synthetic(c.sw, c.sh), 37, 21, 187, 131, c.w, c.h, 0, 0, c.w, c.h, nil))
			putScratch(sc)
		} else {
			s.Fill(synthetic(c.sw, c.sh), got)
		}
		mean, maxd := diffStats(got, want)
		t.Logf("%-12s %dx%d -> %dx%d %s: mean abs diff %.3f, max %.2f (levels of 255)", c.name, c.sw, c.sh, c.w, c.h, c.mode, mean, maxd)
		if mean > 0.5 || maxd > 2 {
			t.Errorf("%s: differs from Pillow: mean abs %.3f (want <= 0.5), max %.2f (want <= 2)", c.name, mean, maxd)
		}
	}
}

var mimlRefImages = []string{"2.jpg", "957.jpg", "2000.jpg"}

// pillowPython returns a python3 that can import PIL and numpy, or "".
func pillowPython() string {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import PIL, numpy").Run() == nil {
			return p
		}
	}
	return ""
}

// TestFillMIMLMatchesPillow runs decode+resize+crop on real MIML JPEGs and compares with
// Pillow (libjpeg-turbo decoding + BILINEAR) end to end: pixel by pixel when python3 with
// PIL is available, and always against the committed per-channel means (numbers only,
// testdata/miml_ref.json). Differences include the JPEG decoders' (IDCT, chroma
// upsampling) as well as the resize's; measured: mean abs diff 0.33–0.41 levels, max 2.7.
func TestFillMIMLMatchesPillow(t *testing.T) {
	t.Parallel()
	dir := sharedtest.Dir(t, "data/miml-scenes/images")
	s := rawSpec(224, 224, ResizeShorterCrop, 224)
	var ref struct {
		Images map[string]struct{ Mean, Std [3]float64 }
	}
	b, err := os.ReadFile(filepath.Join("testdata", "miml_ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	py := pillowPython()
	for _, name := range mimlRefImages {
		path := filepath.Join(dir, name)
		got := make([]float32, s.TensorLen())
		if err := LoadFile(path, s, got, DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
		r := ref.Images[name]
		for c := 0; c < 3; c++ {
			var sum float64
			for i := c; i < len(got); i += 3 {
				sum += float64(got[i])
			}
			m := sum / float64(len(got)/3)
			if math.Abs(m-r.Mean[c]) > 1.5 {
				t.Errorf("%s channel %d: mean %.3f, Pillow %.3f", name, c, m, r.Mean[c])
			}
		}
		if py == "" {
			continue
		}
		out := filepath.Join(t.TempDir(), "ref.raw")
		script := `import sys
from PIL import Image
img = Image.open(sys.argv[1]).convert("RGB")
w, h = img.size
rw, rh = (224, int(224 * h / w)) if w <= h else (int(224 * w / h), 224)
r = img.resize((rw, rh), Image.BILINEAR)
l, t = int(round((rw - 224) / 2.0)), int(round((rh - 224) / 2.0))
open(sys.argv[2], "wb").write(r.crop((l, t, l + 224, t + 224)).tobytes())
`
		if msg, err := exec.Command(py, "-c", script, path, out).CombinedOutput(); err != nil {
			t.Fatalf("pillow: %v\n%s", err, msg)
		}
		want, err := os.ReadFile(out)
		if err != nil || len(want) != len(got) {
			t.Fatalf("pillow output: %v (%d bytes)", err, len(want))
		}
		mean, maxd := diffStats(got, want)
		t.Logf("%s: vs Pillow end to end: mean abs diff %.3f, max %.1f (levels of 255)", name, mean, maxd)
		if mean > 2 {
			t.Errorf("%s: mean abs diff %.3f vs Pillow, want <= 2", name, mean)
		}
	}
}

func TestFillNormalizationAndLayout(t *testing.T) {
	t.Parallel()
	img := image.NewNRGBA(image.Rect(0, 0, 9, 7))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 200, 100, 50, 255
	}
	for _, order := range []string{"RGB", "BGR"} {
		for _, layout := range []string{"NCHW", "NHWC"} {
			s := Spec{Width: 4, Height: 3, Resize: ResizeSquish, ChannelOrder: order, Scale: 1,
				Mean: [3]float32{0.1, 0.2, 0.3}, Std: [3]float32{0.5, 0.25, 2}, Layout: layout}
			dst := make([]float32, s.TensorLen())
			s.Fill(img, dst)
			rgb := [3]float32{200, 100, 50}
			if order == "BGR" {
				rgb = [3]float32{50, 100, 200}
			}
			for c := 0; c < 3; c++ {
				want := (rgb[c]/255 - s.Mean[c]) / s.Std[c]
				for i := 0; i < s.Width*s.Height; i++ {
					got := dst[c*s.Width*s.Height+i]
					if layout == "NHWC" {
						got = dst[3*i+c]
					}
					if math.Abs(float64(got-want)) > 1e-5 {
						t.Fatalf("%s %s channel %d: %v, want %v", order, layout, c, got, want)
					}
				}
			}
		}
	}
}

// A sub-image (odd origin, so chroma samples are shared with pixels outside it) reads
// the same pixels as the full image, away from its edges.
func TestFillSubImage(t *testing.T) {
	t.Parallel()
	full, err := DecodeBytes(jpegBytes(t, synthetic(64, 48)), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sub := full.(*image.YCbCr).SubImage(image.Rect(5, 3, 50, 40))
	for y := 2; y < 35; y++ {
		for x := 2; x < 43; x++ {
			if a, b := pixel(sub, x, y), pixel(full, x+5, y+3); a != b {
				t.Fatalf("(%d,%d): sub %v, full %v", x, y, a, b)
			}
		}
	}
	s := rawSpec(16, 16, ResizeShorterCrop, 0)
	dst := make([]float32, s.TensorLen())
	s.Fill(sub, dst) // must not go out of range
	s.Fill(image.NewRGBA(image.Rect(3, 3, 3, 3)), dst)
	for _, v := range dst {
		if v != 0 {
			t.Fatal("empty image: want black")
		}
	}
}

// Steady-state Fill allocates nothing: scratch buffers are pooled.
func TestFillAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops sync.Pool items on purpose")
	}
	img, err := DecodeBytes(jpegBytes(t, synthetic(384, 256)), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := ImageNetSpec()
	dst := make([]float32, s.TensorLen())
	a := DefaultAugment()
	s.Fill(img, dst)
	if n := testing.AllocsPerRun(20, func() { s.Fill(img, dst) }); n >= 1 {
		t.Errorf("Fill: %v allocations per call", n)
	}
	a.Fill(img, s, 1, 0, 0, dst)
	if n := testing.AllocsPerRun(20, func() { a.Fill(img, s, 1, 0, 0, dst) }); n > 2 {
		t.Errorf("Augment.Fill: %v allocations per call, want <= 2 (the generator)", n)
	}
}

// A strong downscale (a filter over 200 taps wide) of a ramp gives the ramp's averages.
func TestFillStrongDownscale(t *testing.T) {
	t.Parallel()
	img := image.NewGray(image.Rect(0, 0, 4100, 90))
	for x := 0; x < 4100; x++ {
		for y := 0; y < 90; y++ {
			img.Pix[y*img.Stride+x] = uint8(x * 255 / 4099)
		}
	}
	s := rawSpec(40, 3, ResizeSquish, 0)
	got := make([]float32, s.TensorLen())
	s.Fill(img, got)
	for x := 1; x < 39; x++ { // the edge pixels' filters are cut by the border
		want := (float64(x) + 0.5) / 40 * 255 // a ramp's average over the output pixel
		if d := math.Abs(float64(got[3*x]) - want); d > 1 {
			t.Fatalf("x=%d: %v, want about %.2f", x, got[3*x], want)
		}
	}
}
