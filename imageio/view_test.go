package imageio

import (
	"image"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFillViewFlipMirrorsFill(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	img := image.NewRGBA(image.Rect(0, 0, 37, 23))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	for _, s := range []Spec{
		{Width: 16, Height: 12, Resize: ResizeSquish, ChannelOrder: "BGR", Scale: 255, Mean: [3]float32{104, 117, 123}, Layout: "NCHW"},
		{Width: 16, Height: 16, Resize: ResizeShorterCrop, ResizeShorter: 20, ChannelOrder: "RGB", Scale: 1, Layout: "NHWC"},
	} {
		a := make([]float32, s.TensorLen())
		b := make([]float32, s.TensorLen())
		s.Fill(img, a)
		s.FillView(img, ViewFlip, b)
		W, H := s.Width, s.Height
		for c := range 3 {
			for y := range H {
				for x := range W {
					ia, ib := c*W*H+y*W+x, c*W*H+y*W+W-1-x
					if s.Layout == "NHWC" {
						ia, ib = (y*W+x)*3+c, (y*W+W-1-x)*3+c
					}
					if a[ia] != b[ib] {
						t.Fatalf("%s: c %d y %d x %d: %v, mirrored %v", s.Layout, c, y, x, a[ia], b[ib])
					}
				}
			}
		}
		s.FillView(img, ViewOriginal, b)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("original view differs from Fill at %d", i)
			}
		}
	}
}

func TestParseViews(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		err  string
	}{
		{"", 0, ""}, {"none", 0, ""}, {"flip", 1, ""}, {" flip ", 1, ""},
		{"flip,flip", 0, "twice"}, {"rotate", 0, `"rotate"`}, {"flip,", 0, `""`},
	} {
		v, err := ParseViews(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseViews(%q): err %v, want one containing %s", c.in, err, c.err)
			}
			continue
		}
		if err != nil || len(v) != c.want {
			t.Errorf("ParseViews(%q) = %v, %v; want %d views", c.in, v, err, c.want)
		}
	}
}
