package imageio

import (
	"slices"
	"testing"
)

func TestAugmentDeterministic(t *testing.T) {
	t.Parallel()
	img := synthetic(301, 203)
	s := Spec{Width: 40, Height: 32, Resize: ResizeShorterCrop, ChannelOrder: "RGB", Scale: 1,
		Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.25, 0.25, 0.25}, Layout: "NCHW"}
	a := Augment{Scale: [2]float64{0.2, 1}, HFlip: 0.5, Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Cutout: 0.3}
	fill := func(seed uint64, epoch, index int) []float32 {
		dst := make([]float32, s.TensorLen())
		a.Fill(img, s, seed, epoch, index, dst)
		return dst
	}
	ref := fill(7, 1, 3)
	// Same key, even interleaved with other keys: same values.
	_ = fill(7, 1, 4)
	if !slices.Equal(ref, fill(7, 1, 3)) {
		t.Fatal("same (seed, epoch, index) gave different tensors")
	}
	for _, k := range [][3]int{{8, 1, 3}, {7, 2, 3}, {7, 1, 4}} {
		if slices.Equal(ref, fill(uint64(k[0]), k[1], k[2])) {
			t.Errorf("key %v gave the same tensor as (7,1,3)", k)
		}
	}
}

func TestAugmentFlipAndCutout(t *testing.T) {
	t.Parallel()
	img := synthetic(120, 90)
	for _, layout := range []string{"NCHW", "NHWC"} {
		s := Spec{Width: 30, Height: 20, Resize: ResizeSquish, ChannelOrder: "BGR", Scale: 255, Layout: layout}
		plain := make([]float32, s.TensorLen())
		s.Fill(img, plain)
		flipped := make([]float32, s.TensorLen())
		Augment{HFlip: 1}.Fill(img, s, 1, 0, 0, flipped)
		at := func(v []float32, c, y, x int) float32 {
			if layout == "NHWC" {
				return v[(y*s.Width+x)*3+c]
			}
			return v[c*s.Width*s.Height+y*s.Width+x]
		}
		for c := 0; c < 3; c++ {
			for y := 0; y < s.Height; y++ {
				for x := 0; x < s.Width; x++ {
					if at(flipped, c, y, x) != at(plain, c, y, s.Width-1-x) {
						t.Fatalf("%s: flip mismatch at c%d y%d x%d", layout, c, y, x)
					}
				}
			}
		}
		cut := make([]float32, s.TensorLen())
		Augment{Cutout: 0.5}.Fill(img, s, 1, 0, 0, cut)
		zeros := 0
		for i, v := range cut {
			if v == 0 && plain[i] != 0 {
				zeros++
			} else if v != plain[i] {
				t.Fatalf("%s: cutout changed a value outside the square", layout)
			}
		}
		if zeros == 0 || zeros > 3*10*10 {
			t.Errorf("%s: cutout zeroed %d values, want 1..300", layout, zeros)
		}
	}
}

func TestCropBox(t *testing.T) {
	t.Parallel()
	a := Augment{Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3}}
	for i := range 500 {
		w, h := 50+i%300, 40+(i*7)%200
		x0, y0, cw, ch := a.cropBox(augmentRNG(1, 0, i), w, h)
		if x0 < 0 || y0 < 0 || cw < 1 || ch < 1 || x0+cw > w || y0+ch > h {
			t.Fatalf("%dx%d: crop %d,%d %dx%d out of bounds", w, h, x0, y0, cw, ch)
		}
	}
	// A ratio range no crop of a very wide image can satisfy falls back to a center crop.
	x0, y0, cw, ch := Augment{Scale: [2]float64{0.9, 1}, Ratio: [2]float64{1, 1}}.cropBox(augmentRNG(1, 0, 0), 1000, 10)
	if cw != 10 || ch != 10 || x0 != 495 || y0 != 0 {
		t.Errorf("fallback crop %d,%d %dx%d, want 495,0 10x10", x0, y0, cw, ch)
	}
}

func TestJitterRange(t *testing.T) {
	t.Parallel()
	img := synthetic(64, 48)
	s := Spec{Width: 32, Height: 24, Resize: ResizeSquish, ChannelOrder: "RGB", Scale: 255, Layout: "NHWC"}
	dst := make([]float32, s.TensorLen())
	plain := make([]float32, s.TensorLen())
	s.Fill(img, plain)
	Augment{Brightness: 0.5, Contrast: 0.5, Saturation: 0.5}.Fill(img, s, 3, 0, 0, dst)
	if slices.Equal(dst, plain) {
		t.Error("jitter changed nothing")
	}
	for _, v := range dst {
		if v < 0 || v > 255 {
			t.Fatalf("jittered value %v outside 0..255", v)
		}
	}
}
