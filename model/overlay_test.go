package model

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/multilabel/multilabel/imageio"
)

// TestOverlayPNG: the hand-rolled encoder writes a PNG that image/png decodes to the
// pixels drawn (checked on the unblended image: a map of NaN and ±Inf falls back to
// level 0, whose blend is known), for both layouts and channel orders.
func TestOverlayPNG(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, spec := range []imageio.Spec{
		{Width: 37, Height: 21, Resize: imageio.ResizeSquish, ChannelOrder: "RGB", Scale: 1, Layout: "NCHW", Mean: [3]float32{0.4, 0.5, 0.6}, Std: [3]float32{0.2, 0.3, 0.25}},
		{Width: 300, Height: 200, Resize: imageio.ResizeSquish, ChannelOrder: "BGR", Scale: 255, Layout: "NHWC", Mean: [3]float32{104, 117, 123}},
	} {
		tensor := make([]float32, spec.TensorLen())
		for i := range tensor {
			tensor[i] = float32(rng.NormFloat64())
		}
		vals := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
		data, err := overlay(spec, tensor, vals, 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		W, H := overlaySize(spec.Width, spec.Height)
		if b := img.Bounds(); b.Dx() != W || b.Dy() != H || max(W, H) > MaxOverlaySide {
			t.Fatalf("%v, want %dx%d", b, W, H)
		}
		v := newViewer(spec, tensor)
		c := heatLUT[0]
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				r, g, b := v.rgb((x*spec.Width+spec.Width/2)/W, (y*spec.Height+spec.Height/2)/H)
				want := [3]uint8{to8(c.keep*r + c.r), to8(c.keep*g + c.g), to8(c.keep*b + c.b)}
				gr, gg, gb, _ := img.At(x, y).RGBA()
				if got := [3]uint8{uint8(gr >> 8), uint8(gg >> 8), uint8(gb >> 8)}; got != want {
					t.Fatalf("%s: pixel %d,%d = %v, want %v", spec.Layout, x, y, got, want)
				}
			}
		}
	}
}

// TestViewerUndoesFill: the image the overlay is drawn on is the preprocessed tensor
// undone: a solid colour filled per a spec reads back as that colour.
func TestViewerUndoesFill(t *testing.T) {
	t.Parallel()
	for _, spec := range []imageio.Spec{imageio.ImageNetSpec(),
		{Width: 8, Height: 8, Resize: imageio.ResizeSquish, ChannelOrder: "BGR", Scale: 255, Layout: "NHWC", Mean: [3]float32{104, 117, 123}}} {
		img := solid(200, 40, 90, 50, 30)
		tensor := make([]float32, spec.TensorLen())
		spec.Fill(img, tensor)
		r, g, b := newViewer(spec, tensor).rgb(3, 4)
		if math.Abs(float64(r-200)) > 0.5 || math.Abs(float64(g-40)) > 0.5 || math.Abs(float64(b-90)) > 0.5 {
			t.Errorf("%s/%s: %v %v %v, want 200 40 90", spec.Layout, spec.ChannelOrder, r, g, b)
		}
	}
}

func solid(r, g, b uint8, w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(m.Pix); i += 4 {
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = r, g, b, 255
	}
	return m
}
