package turbo

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// mimlFiles returns every step-th MIML JPEG (sorted), read into memory.
func mimlFiles(t testing.TB, step int) (names []string, data [][]byte) {
	t.Helper()
	dir := sharedtest.Dir(t, "data/miml-scenes/images")
	paths, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no JPEGs in %s: %v", dir, err)
	}
	sort.Strings(paths)
	for i := 0; i < len(paths); i += step {
		b, err := os.ReadFile(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Base(paths[i]))
		data = append(data, b)
	}
	return names, data
}

func needTurbo(t testing.TB) {
	t.Helper()
	if err := LoadError(); err != nil {
		if os.Getenv("CI") != "" && os.Getenv(EnvDisable) == "" && !strings.Contains(err.Error(), "cgo") {
			t.Fatalf("libjpeg-turbo missing in CI (.ci/run installs libturbojpeg0): %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// identity is a spec that copies an image's pixels (0..255, RGB, HWC) without resizing.
func identity(w, h int) imageio.Spec {
	return imageio.Spec{Width: w, Height: h, Resize: imageio.ResizeSquish, ChannelOrder: "RGB",
		Scale: 255, Std: [3]float32{1, 1, 1}, Layout: "NHWC"}
}

func pixels(img image.Image) []float32 {
	b := img.Bounds()
	s := identity(b.Dx(), b.Dy())
	out := make([]float32, s.TensorLen())
	s.Fill(img, out)
	return out
}

func meanMaxAbs(a, b []float32) (mean, maxd float64) {
	for i := range a {
		d := math.Abs(float64(a[i] - b[i]))
		mean += d
		maxd = max(maxd, d)
	}
	return mean / float64(len(a)), maxd
}

// TestDecodeMatchesPureGo compares full-size libjpeg-turbo decoding with the pure-Go
// decoder on MIML JPEGs. Both implement the JPEG standard's IDCT and libjpeg's "fancy"
// chroma upsampling, up to rounding: measured on 75 files, mean abs difference 0.27 of
// 255 (largest single value 15, at sharp chroma edges); bound 1.0 mean.
func TestDecodeMatchesPureGo(t *testing.T) {
	t.Parallel()
	needTurbo(t)
	names, data := mimlFiles(t, 20)
	var total float64
	var worst float64
	for i, d := range data {
		fast, err := Decode(d, 0, 0, 0, nil)
		if err != nil {
			t.Fatalf("%s: %v", names[i], err)
		}
		ref, err := imageio.DecodeBytes(d, imageio.DecodeOptions{})
		if err != nil {
			t.Fatalf("%s: %v", names[i], err)
		}
		if fast.Bounds() != ref.Bounds() {
			t.Fatalf("%s: bounds %v, pure Go %v", names[i], fast.Bounds(), ref.Bounds())
		}
		if m, ok := fast.(*image.RGBA); ok {
			for p := 3; p < len(m.Pix); p += 4 {
				if m.Pix[p] != 255 {
					t.Fatalf("%s: alpha %d at byte %d, want opaque", names[i], m.Pix[p], p)
				}
			}
		}
		mean, mx := meanMaxAbs(pixels(fast), pixels(ref))
		total += mean
		worst = max(worst, mx)
		if mean > 1.0 {
			t.Errorf("%s: mean abs difference %.3f of 255, want <= 1", names[i], mean)
		}
	}
	t.Logf("%d files: mean abs difference %.3f of 255, largest single difference %.0f", len(data), total/float64(len(data)), worst)
}

// upscaled makes a large JPEG (4× each side) from a MIML image, so DCT downscaling to a
// 224 crop has room (1/4).
func upscaled(t testing.TB, d []byte) []byte {
	src, err := imageio.DecodeBytes(d, imageio.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	big := image.NewRGBA(image.Rect(0, 0, 4*b.Dx(), 4*b.Dy()))
	s := identity(big.Rect.Dx(), big.Rect.Dy())
	vals := make([]float32, s.TensorLen())
	s.Fill(src, vals) // Pillow-style bilinear upscale
	for i := 0; i < len(vals)/3; i++ {
		for c := 0; c < 3; c++ {
			big.Pix[4*i+c] = uint8(math.Round(float64(vals[3*i+c])))
		}
		big.Pix[4*i+3] = 255
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, big, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestScaledFillClose checks that DCT-domain downscaling followed by the antialiased
// resize gives nearly the tensor of a full decode followed by the same resize, in 0..255
// units: (a) 1536×1024 JPEGs (MIML images upscaled 4×) to the ImageNet 256/224 crop,
// decoded at 1/2 (imageio keeps twice the resize's size); (b) the 384×256 MIML files to
// a 56/48 crop, decoded at 1/2. Measured: (a) mean 0.20, (b) mean 0.45; bounds 1.5 and 3.
func TestScaledFillClose(t *testing.T) {
	t.Parallel()
	needTurbo(t)
	names, data := mimlFiles(t, 100)
	small := imageio.Spec{Width: 48, Height: 48, Resize: imageio.ResizeShorterCrop, ResizeShorter: 56,
		ChannelOrder: "RGB", Scale: 255, Std: [3]float32{1, 1, 1}, Layout: "NCHW"}
	big := small
	big.Width, big.Height, big.ResizeShorter = 224, 224, 256
	check := func(name string, d []byte, s imageio.Spec, wantDenom int, bound float64) float64 {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(d))
		if err != nil {
			t.Fatal(err)
		}
		short := 2 * s.ResizeShorter // imageio decodes at no less than twice the resize's size
		if got := ScaleDenom(cfg.Width, cfg.Height, short, short); got < wantDenom {
			t.Fatalf("%s %dx%d: scale 1/%d, want at least 1/%d", name, cfg.Width, cfg.Height, got, wantDenom)
		}
		full := make([]float32, s.TensorLen())
		ref, err := imageio.DecodeBytes(d, imageio.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Fill(ref, full)
		fast := make([]float32, s.TensorLen())
		if err := imageio.LoadBytes(d, s, fast, imageio.DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
		mean, _ := meanMaxAbs(fast, full)
		if mean > bound {
			t.Errorf("%s: mean abs difference %.3f of 255 at 1/%d, want <= %.1f", name, mean, wantDenom, bound)
		}
		return mean
	}
	var sa, sb float64
	var na, nb int
	for i, d := range data {
		cfg, _ := jpeg.DecodeConfig(bytes.NewReader(d))
		if min(cfg.Width, cfg.Height) < 256 { // the 384×256 ones
			continue
		}
		if na < 3 { // encoding the upscaled files is the slow part
			sa += check(names[i]+" (4× upscaled)", upscaled(t, d), big, 2, 1.5)
			na++
		}
		sb += check(names[i], d, small, 2, 3)
		nb++
	}
	if na == 0 {
		t.Fatal("no 384×256 MIML images in the sample")
	}
	t.Logf("mean abs difference, 0..255: 1/2 to 224: %.3f over %d; 1/2 to 48: %.3f over %d", sa/float64(na), na, sb/float64(nb), nb)
}

// TestFallback checks the pure-Go path: with the decoder unregistered (in process), and
// with the environment variable set (a child test process).
func TestFallback(t *testing.T) {
	_, data := mimlFiles(t, 300)
	s := imageio.ImageNetSpec()
	ref := make([]float32, s.TensorLen())
	img, err := imageio.DecodeBytes(data[0], imageio.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Fill(img, ref)

	prev := imageio.FastJPEG()
	imageio.RegisterFastJPEG("", nil)
	defer func() {
		if prev != "" {
			_ = Register()
		}
	}()
	got := make([]float32, s.TensorLen())
	if err := imageio.LoadBytes(data[0], s, got, imageio.DecodeOptions{}); err != nil {
		t.Fatal(err)
	}
	if m, _ := meanMaxAbs(got, ref); m != 0 {
		t.Fatalf("unregistered: LoadBytes differs from the pure-Go path by %g", m)
	}

	if os.Getenv("TURBO_CHILD") != "" {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestEnvDisabled$", "-test.v")
	cmd.Env = append(os.Environ(), EnvDisable+"=1", "TURBO_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestEnvDisabled")) {
		t.Fatalf("child with %s=1: %v\n%s", EnvDisable, err, out)
	}
}

// TestEnvDisabled runs in the child process of TestFallback (and passes trivially
// otherwise): the environment variable keeps libjpeg-turbo unregistered.
func TestEnvDisabled(t *testing.T) {
	if os.Getenv("TURBO_CHILD") == "" {
		return
	}
	if got := imageio.FastJPEG(); got != "" {
		t.Fatalf("%s=1 but %q is registered", EnvDisable, got)
	}
}

func TestScaleDenom(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ w, h, mw, mh, want int }{
		{384, 256, 256, 256, 1},
		{1536, 1024, 256, 256, 4},
		{4000, 3000, 256, 256, 8},
		{2047, 2047, 256, 256, 4}, // ceil(2047/8) = 256 would do: 8
		{600, 400, 200, 200, 2},
		{600, 400, 0, 0, 1},
		{100, 100, 300, 300, 1},
	} {
		want := c.want
		if c.w == 2047 {
			want = 8
		}
		if got := ScaleDenom(c.w, c.h, c.mw, c.mh); got != want {
			t.Errorf("ScaleDenom(%d,%d,%d,%d) = %d, want %d", c.w, c.h, c.mw, c.mh, got, want)
		}
	}
}

// TestDeclinesBadInput: truncated, garbage and CMYK-free edge cases are declined (so the
// pure-Go decoder reports them), never crash.
func TestDeclinesBadInput(t *testing.T) {
	t.Parallel()
	needTurbo(t)
	_, data := mimlFiles(t, 500)
	d := data[0]
	for name, in := range map[string][]byte{
		"truncated": d[:len(d)/2],
		"header":    d[:20],
		"garbage":   []byte("\xff\xd8\xffnot really a jpeg"),
		"empty":     nil,
	} {
		if _, err := Decode(in, 0, 0, 0, nil); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
		dst := make([]float32, imageio.ImageNetSpec().TensorLen())
		if err := imageio.LoadBytes(in, imageio.ImageNetSpec(), dst, imageio.DecodeOptions{}); err == nil && name != "truncated" {
			t.Errorf("%s: LoadBytes accepted it", name)
		}
	}
}

// TestLoadBytesAllocs: the steady state of LoadBytes through libjpeg-turbo allocates
// (almost) nothing per image.
func TestLoadBytesAllocs(t *testing.T) {
	needTurbo(t)
	if imageio.FastJPEG() != Name {
		t.Skip("libjpeg-turbo not registered")
	}
	_, data := mimlFiles(t, 300)
	s := imageio.ImageNetSpec()
	dst := make([]float32, s.TensorLen())
	allocs := testing.AllocsPerRun(20, func() {
		if err := imageio.LoadBytes(data[0], s, dst, imageio.DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("LoadBytes via libjpeg-turbo: %.1f allocations per image", allocs)
	if allocs > 2 {
		t.Errorf("%.1f allocations per image, want <= 2", allocs)
	}
}

func BenchmarkDecode(b *testing.B) {
	needTurbo(b)
	_, data := mimlFiles(b, 25)
	s := imageio.ImageNetSpec()
	dst := make([]float32, s.TensorLen())
	for _, mode := range []string{"turbo", "purego"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "purego" {
				imageio.RegisterFastJPEG("", nil)
				defer Register()
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := imageio.LoadBytes(data[i%len(data)], s, dst, imageio.DecodeOptions{}); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// withOrientation inserts an APP1 EXIF segment with orientation o after the SOI marker.
func withOrientation(jb []byte, o uint16) []byte {
	tiff := []byte("II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	tiff[18] = byte(o)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	n := len(seg) + 2
	out := append([]byte{0xFF, 0xD8, 0xFF, 0xE1, byte(n >> 8), byte(n)}, seg...)
	return append(out, jb[2:]...)
}

// TestGuardsAndOrientation: through libjpeg-turbo, a bomb header is refused with
// ErrTooLarge before decoding, and the EXIF orientation is applied.
func TestGuardsAndOrientation(t *testing.T) {
	needTurbo(t)
	if imageio.FastJPEG() != Name {
		t.Skip("libjpeg-turbo not registered")
	}
	_, data := mimlFiles(t, 300)
	d := data[0]
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(d))
	if err != nil {
		t.Fatal(err)
	}
	img, err := imageio.DecodeForSpec(withOrientation(d, 6), imageio.ImageNetSpec(), imageio.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Height || b.Dy() != cfg.Width {
		t.Errorf("orientation 6: %v, want %dx%d", b, cfg.Height, cfg.Width)
	}
	bomb := append([]byte(nil), d...)
	i := bytes.Index(bomb, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Skip("no SOF0 marker")
	}
	bomb[i+5], bomb[i+6], bomb[i+7], bomb[i+8] = 0x9c, 0x40, 0x9c, 0x40 // 40000×40000
	if _, err := Decode(bomb, 0, 0, 0, nil); !errors.Is(err, imageio.ErrTooLarge) {
		t.Errorf("Decode of a 40000×40000 header: %v, want ErrTooLarge", err)
	}
	dst := make([]float32, imageio.ImageNetSpec().TensorLen())
	allocs := testing.AllocsPerRun(5, func() {
		if err := imageio.LoadBytes(bomb, imageio.ImageNetSpec(), dst, imageio.DecodeOptions{}); !errors.Is(err, imageio.ErrTooLarge) {
			t.Fatalf("LoadBytes of a 40000×40000 header: %v, want ErrTooLarge", err)
		}
	})
	if allocs > 50 {
		t.Errorf("refusing a bomb allocated %.0f times", allocs)
	}
}

// TestLoaderAndLoadFileUseTurbo: the loader and LoadFile go through the registered
// decoder (their tensors equal LoadBytes's exactly), and the loader's steady state
// allocates only a few small objects per image (file handles), no pixel buffers.
func TestLoaderAndLoadFileUseTurbo(t *testing.T) {
	needTurbo(t)
	if imageio.FastJPEG() != Name {
		t.Skip("libjpeg-turbo not registered")
	}
	dir := sharedtest.Dir(t, "data/miml-scenes/images")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	sort.Strings(paths)
	paths = paths[:64]
	s := imageio.ImageNetSpec()
	tl := s.TensorLen()
	want := make([]float32, len(paths)*tl)
	for i, p := range paths {
		d, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := imageio.LoadBytes(d, s, want[i*tl:(i+1)*tl], imageio.DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]float32, tl)
	if err := imageio.LoadFile(paths[3], s, got, imageio.DecodeOptions{}); err != nil {
		t.Fatal(err)
	}
	if m, _ := meanMaxAbs(got, want[3*tl:4*tl]); m != 0 {
		t.Errorf("LoadFile differs from LoadBytes by %g", m)
	}
	pass := func() (mallocs, bytes uint64) {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		l := imageio.NewLoader(context.Background(), paths, s, imageio.LoaderOptions{BatchSize: 16, Workers: 2})
		defer l.Close()
		for {
			b, err := l.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if m, _ := meanMaxAbs(b.Data, want[b.Start*tl:(b.Start+b.N)*tl]); m != 0 {
				t.Fatalf("loader batch at %d differs from LoadBytes by %g", b.Start, m)
			}
			l.Release(b)
		}
		runtime.ReadMemStats(&m1)
		return m1.Mallocs - m0.Mallocs, m1.TotalAlloc - m0.TotalAlloc
	}
	pass()
	n, by := pass()
	perImg, bytesPerImg := float64(n)/float64(len(paths)), float64(by)/float64(len(paths))
	t.Logf("loader via libjpeg-turbo: %.1f allocations, %.0f bytes per image (the batch buffers are allocated once per loader)", perImg, bytesPerImg)
	if perImg > 10 {
		t.Errorf("%.1f allocations per image, want <= 10", perImg)
	}
}
