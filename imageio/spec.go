package imageio

import (
	"errors"
	"fmt"
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
