package imageio

import "testing"

func TestSpecDescribe(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s    Spec
		want string
	}{
		{ImageNetSpec(), "float32 [N,3,224,224] NCHW, RGB channels: EXIF orientation applied, alpha on white, shorter side resized to 256, centre crop 224x224 (bilinear, antialiased), each value v/255 (0..1), then (x - mean) / std with mean [0.485 0.456 0.406], std [0.229 0.224 0.225] (RGB order)"},
		{Spec{Width: 8, Height: 6, Resize: ResizeSquish, ChannelOrder: "BGR", Scale: 255, Layout: "NHWC"},
			"float32 [N,6,8,3] NHWC, BGR channels: EXIF orientation applied, alpha on white, resized to 8x6 ignoring the aspect ratio (bilinear, antialiased), each value v (0..255)"},
	} {
		if got := c.s.Describe(); got != c.want {
			t.Errorf("Describe:\n got %s\nwant %s", got, c.want)
		}
	}
}
