package bench

import (
	"context"
	"image"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/imageio"
	_ "github.com/multilabel/multilabel/imageio/turbo"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// pillowResize writes, with Pillow, the spec's resized (BILINEAR) and cropped RGB bytes of
// path: the reference preprocessing the backbones were trained with.
const pillowResize = `import sys
from PIL import Image
path, mode, W, H, short, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
img = Image.open(path).convert("RGB")
if mode == "squish":
    r = img.resize((W, H), Image.BILINEAR)
else:
    w, h = img.size
    rw, rh = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
    r = img.resize((rw, rh), Image.BILINEAR)
    l, t = int(round((rw - W) / 2.0)), int(round((rh - H) / 2.0))
    r = r.crop((l, t, l + W, t + H))
open(out, "wb").write(r.tobytes())
`

// TestFeaturesMatchPillow runs a few real MIML images through the shared SqueezeNet's
// feature model twice: preprocessed by the project (libjpeg-turbo when present, else the
// pure-Go decoder; its own antialiased bilinear resize) and by Pillow 9.4 (its
// libjpeg-turbo decoding and BILINEAR resize, computed at test time, nothing committed).
// One image is a 4× upscaled MIML JPEG, which the libjpeg-turbo path decodes at 1/2 in the
// DCT domain. Measured (512-d features, 6 images): libjpeg-turbo path cosine mean 0.99979,
// min 0.99934, pixel mean abs difference 0.27 of 255; pure-Go path (MULTILABEL_NO_TURBOJPEG=1)
// mean 0.99966, min 0.99894, pixels 0.35. Bound: cosine >= 0.998 for every image.
func TestFeaturesMatchPillow(t *testing.T) {
	t.Parallel()
	dir := sharedtest.Dir(t, "data/miml-scenes/images")
	model := sharedtest.Dir(t, "models/squeezenet1.1/squeezenet1.1-fp16.onnx")
	lib := sharedtest.ORTLib(t)
	py := ""
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import PIL").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		t.Skip("skipping: no python3 with PIL (Debian python3-pil)")
	}
	bb, err := backbone.Load(model, backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fm, err := bb.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := ort.Open(fm, ort.Options{LibPath: lib, IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	s := bb.Spec
	short := s.ResizeShorter
	if short == 0 {
		short = max(s.Width, s.Height)
	}
	names := []string{"2.jpg", "957.jpg", "2000.jpg", "1.jpg", "1500.jpg", "big"}
	big := upscaledJPEG(t, filepath.Join(dir, "2.jpg"), 4) // decoded at 1/2 in the DCT domain
	tl := s.TensorLen()
	ours := make([]float32, len(names)*tl)
	ref := make([]float32, len(names)*tl)
	var pixDiff float64
	for i, name := range names {
		path := filepath.Join(dir, name)
		if name == "big" {
			path = big
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := imageio.LoadBytes(data, s, ours[i*tl:(i+1)*tl], imageio.DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "ref.raw")
		cmd := exec.Command(py, "-c", pillowResize, path, s.Resize, strconv.Itoa(s.Width), strconv.Itoa(s.Height), strconv.Itoa(short), out)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pillow: %v\n%s", err, msg)
		}
		raw, err := os.ReadFile(out)
		if err != nil || len(raw) != 3*s.Width*s.Height {
			t.Fatalf("pillow output: %v, %d bytes", err, len(raw))
		}
		// Normalise Pillow's pixels with the spec (an identity resize).
		img := image.NewRGBA(image.Rect(0, 0, s.Width, s.Height))
		for p := 0; p < s.Width*s.Height; p++ {
			copy(img.Pix[4*p:4*p+3], raw[3*p:3*p+3])
			img.Pix[4*p+3] = 255
		}
		id := s
		id.Resize, id.ResizeShorter = imageio.ResizeSquish, 0
		id.Fill(img, ref[i*tl:(i+1)*tl])
		for k := i * tl; k < (i+1)*tl; k++ { // in levels of 255 (the spec scales by Scale/255/std)
			std := float64(s.Std[(k-i*tl)/(s.Width*s.Height)%3])
			if std == 0 {
				std = 1
			}
			pixDiff += math.Abs(float64(ours[k]-ref[k])) * 255 / float64(s.Scale) * std
		}
	}
	fo, err := eng.Run(context.Background(), ours, len(names))
	if err != nil {
		t.Fatal(err)
	}
	fr, err := eng.Run(context.Background(), ref, len(names))
	if err != nil {
		t.Fatal(err)
	}
	d := len(fo) / len(names)
	sum, worst := 0.0, 1.0
	for i, name := range names {
		c := cosine(fo[i*d:(i+1)*d], fr[i*d:(i+1)*d])
		sum += c
		worst = min(worst, c)
		t.Logf("%s: cosine %.5f", name, c)
		if c < 0.998 {
			t.Errorf("%s: feature cosine similarity %.5f vs Pillow preprocessing, want >= 0.998", name, c)
		}
	}
	t.Logf("decoder %q: feature cosine vs Pillow: mean %.5f, min %.5f over %d images; pixel mean abs diff %.3f of 255",
		imageio.FastJPEG(), sum/float64(len(names)), worst, len(names), pixDiff/float64(len(ours)))
}

// upscaledJPEG writes a k× upscaled copy of a JPEG (bilinear, quality 95) to a temp file.
func upscaledJPEG(t *testing.T, path string, k int) string {
	src, err := imageio.DecodeFile(path, imageio.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	W, H := k*b.Dx(), k*b.Dy()
	s := imageio.Spec{Width: W, Height: H, Resize: imageio.ResizeSquish, ChannelOrder: "RGB", Scale: 255, Layout: "NHWC"}
	v := make([]float32, s.TensorLen())
	s.Fill(src, v)
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	for i := 0; i < W*H; i++ {
		for c := 0; c < 3; c++ {
			img.Pix[4*i+c] = uint8(min(max(math.Round(float64(v[3*i+c])), 0), 255))
		}
		img.Pix[4*i+3] = 255
	}
	out := filepath.Join(t.TempDir(), "big.jpg")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return out
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}
