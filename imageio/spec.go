package imageio

import (
	"errors"
	"fmt"
	"image"
)

// Resize modes.
const (
	// ResizeShorterCrop scales the shorter side to ResizeShorter (default: the larger of
	// Width and Height) keeping the aspect ratio, then crops the center Width×Height.
	ResizeShorterCrop = "shorter-crop"
	// ResizeSquish scales both sides to Width×Height, ignoring the aspect ratio.
	ResizeSquish = "squish"
)

// Spec describes how an image becomes a model input tensor. It is data, so a model
// bundle or a backbone sidecar file can carry it as JSON.
type Spec struct {
	Width         int        `json:"width"`
	Height        int        `json:"height"`
	Resize        string     `json:"resize"`                   // ResizeShorterCrop or ResizeSquish
	ResizeShorter int        `json:"resize_shorter,omitempty"` // shorter side before the crop; 0: max(Width, Height)
	ChannelOrder  string     `json:"channel_order"`            // "RGB" or "BGR"
	Scale         float32    `json:"scale"`                    // 1: values 0..1, 255: values 0..255
	Mean          [3]float32 `json:"mean"`                     // subtracted after scaling, in ChannelOrder
	Std           [3]float32 `json:"std"`                      // divided after the mean; zeros mean 1
	Layout        string     `json:"layout"`                   // "NCHW" or "NHWC"
}

// ImageNetSpec is the torchvision convention: RGB, 0..1, ImageNet mean/std, resize 256 and
// center-crop 224, NCHW.
func ImageNetSpec() Spec {
	return Spec{Width: 224, Height: 224, Resize: ResizeShorterCrop, ResizeShorter: 256,
		ChannelOrder: "RGB", Scale: 1, Mean: [3]float32{0.485, 0.456, 0.406},
		Std: [3]float32{0.229, 0.224, 0.225}, Layout: "NCHW"}
}

// Validate reports the first invalid field.
func (s Spec) Validate() error {
	switch {
	case s.Width <= 0 || s.Height <= 0 || s.Width > 8192 || s.Height > 8192:
		return fmt.Errorf("preprocessing: width/height %dx%d out of range 1..8192", s.Width, s.Height)
	case s.Resize != ResizeShorterCrop && s.Resize != ResizeSquish:
		return fmt.Errorf("preprocessing: resize %q: want %q or %q", s.Resize, ResizeShorterCrop, ResizeSquish)
	case s.ResizeShorter < 0:
		return errors.New("preprocessing: resize_shorter must be >= 0")
	case s.ResizeShorter > 0 && s.ResizeShorter < max(s.Width, s.Height):
		return fmt.Errorf("preprocessing: resize_shorter %d is smaller than the %dx%d crop", s.ResizeShorter, s.Width, s.Height)
	case s.ResizeShorter > 4*8192:
		return fmt.Errorf("preprocessing: resize_shorter %d out of range", s.ResizeShorter)
	case s.ChannelOrder != "RGB" && s.ChannelOrder != "BGR":
		return fmt.Errorf("preprocessing: channel_order %q: want RGB or BGR", s.ChannelOrder)
	case s.Scale != 1 && s.Scale != 255:
		return fmt.Errorf("preprocessing: scale %v: want 1 or 255", s.Scale)
	case s.Layout != "NCHW" && s.Layout != "NHWC":
		return fmt.Errorf("preprocessing: layout %q: want NCHW or NHWC", s.Layout)
	}
	return nil
}

// TensorLen is the number of float32 values of one image: 3×Width×Height.
func (s Spec) TensorLen() int { return 3 * s.Width * s.Height }

// Shape is the per-image tensor shape in the spec's layout.
func (s Spec) Shape() []int64 {
	if s.Layout == "NHWC" {
		return []int64{int64(s.Height), int64(s.Width), 3}
	}
	return []int64{3, int64(s.Height), int64(s.Width)}
}

// geometry returns, for a w×h source image, the resized size (rw, rh) and the offset
// (ox, oy) of the Width×Height window kept from it.
//
// ResizeShorterCrop follows torchvision's Resize(shorter) + CenterCrop: the long side
// becomes floor(shorter·long/short), the crop offset is round((resized-crop)/2) with
// ties to even (Python's round).
func (s Spec) geometry(w, h int) (rw, rh, ox, oy int) {
	if s.Resize == ResizeSquish {
		return s.Width, s.Height, 0, 0
	}
	short := s.ResizeShorter
	if short == 0 {
		short = max(s.Width, s.Height)
	}
	if w <= h {
		rw, rh = short, max(int(int64(short)*int64(h)/int64(w)), short)
	} else {
		rh, rw = short, max(int(int64(short)*int64(w)/int64(h)), short)
	}
	return rw, rh, halfEven(rw - s.Width), halfEven(rh - s.Height)
}

// halfEven is round(d/2) with ties to even, for d >= 0.
func halfEven(d int) int {
	q := d / 2
	if d%2 == 1 && q%2 == 1 {
		q++
	}
	return q
}

// Fill resizes img per the spec and writes the normalized tensor of one image into
// dst[:TensorLen()] in the spec's layout and channel order: RGB values v in 0..255
// (alpha composited on white) become (v·Scale/255 − Mean[c]) / Std[c].
//
// Resizing is Pillow's BILINEAR (antialiased when downscaling: a triangle filter whose
// support grows with the ratio), computed only for the kept window, in two separable
// float32 passes with precomputed taps. Against Pillow 9.4 (uint8 in, uint8 out) the mean
// absolute difference is about 0.3 levels of 255, at most 1 (see TestFillMatchesPillow).
//
// Fill panics if the spec is invalid (check Validate first) or dst is shorter than
// TensorLen, like copy into a too-short slice would be a programming error; an empty
// image fills dst with the values of black.
func (s Spec) Fill(img image.Image, dst []float32) {
	if err := s.Validate(); err != nil {
		panic("imageio: Spec.Fill: " + err.Error())
	}
	if len(dst) < s.TensorLen() {
		panic(fmt.Sprintf("imageio: Spec.Fill: dst has %d values, need %d", len(dst), s.TensorLen()))
	}
	sc := getScratch()
	defer putScratch(sc)
	hwc := sc.fill(img, s)
	s.emit(hwc, dst, false)
}

// fill resamples img into sc.hwc per the spec's resize mode.
func (sc *scratch) fill(img image.Image, s Spec) []float32 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		hwc := grow(&sc.hwc, s.TensorLen())
		clear(hwc)
		return hwc
	}
	rw, rh, ox, oy := s.geometry(w, h)
	return sc.resample(img, 0, 0, float64(w), float64(h), rw, rh, ox, oy, s.Width, s.Height)
}

// emit normalizes the H×W×3 RGB window into dst in the spec's layout and channel order,
// mirrored horizontally when flip is set.
func (s Spec) emit(hwc, dst []float32, flip bool) {
	W, H := s.Width, s.Height
	var a, b [3]float32
	var src [3]int
	for c := 0; c < 3; c++ {
		std := s.Std[c]
		if std == 0 {
			std = 1
		}
		a[c] = s.Scale / 255 / std
		b[c] = -s.Mean[c] / std
		src[c] = c
		if s.ChannelOrder == "BGR" {
			src[c] = 2 - c
		}
	}
	if s.Layout == "NHWC" {
		for y := 0; y < H; y++ {
			o := dst[y*W*3 : (y+1)*W*3]
			r := hwc[y*W*3 : (y+1)*W*3]
			for x := 0; x < W; x++ {
				sx := x
				if flip {
					sx = W - 1 - x
				}
				p := r[3*sx : 3*sx+3]
				o[3*x] = p[src[0]]*a[0] + b[0]
				o[3*x+1] = p[src[1]]*a[1] + b[1]
				o[3*x+2] = p[src[2]]*a[2] + b[2]
			}
		}
		return
	}
	plane := W * H
	for c := 0; c < 3; c++ {
		o := dst[c*plane : (c+1)*plane]
		ac, bc, sc := a[c], b[c], src[c]
		for y := 0; y < H; y++ {
			r := hwc[y*W*3 : (y+1)*W*3]
			orow := o[y*W : (y+1)*W]
			if flip {
				for x := range orow {
					orow[x] = r[3*(W-1-x)+sc]*ac + bc
				}
			} else {
				for x := range orow {
					orow[x] = r[3*x+sc]*ac + bc
				}
			}
		}
	}
}

// LoadFile decodes the image at path and fills dst (len >= s.TensorLen()) per the spec.
// Errors name the file and wrap the Err* values (or the os error of a missing file).
func LoadFile(path string, s Spec, dst []float32, opt DecodeOptions) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if len(dst) < s.TensorLen() {
		return fmt.Errorf("imageio: LoadFile: dst has %d values, need %d", len(dst), s.TensorLen())
	}
	img, err := DecodeFile(path, opt)
	if err != nil {
		return err
	}
	s.Fill(img, dst)
	return nil
}
