package imageio

// This file is the hook for a native JPEG decoder (package imageio/turbo registers
// libjpeg-turbo here when it can load it at run time) and the decoding entry points that
// know the target size, so such a decoder can downscale in the DCT domain.

import (
	"errors"
	"fmt"
	"image"
	"sync"
	"sync/atomic"
)

// ErrFastDecline is returned by a FastJPEGFunc that does not handle a file (CMYK, say);
// the pure-Go decoder takes it instead.
var ErrFastDecline = errors.New("imageio: fast JPEG decoder declines this file")

// JPEGBuffer is reusable memory for a FastJPEGFunc: the decoded image's pixels live in
// Pix (grown as needed), and the returned image is &RGBA or &Gray, so decoding into a
// reused buffer allocates nothing.
type JPEGBuffer struct {
	Pix  []byte
	RGBA image.RGBA
	Gray image.Gray
}

// FastJPEGFunc decodes a JPEG file downscaled (in the DCT domain) by the strongest
// supported factor that keeps the stored image at least minW×minH (minW or minH <= 0:
// full size), into buf when buf is not nil (the result then aliases buf; nil allocates).
// It must read the header first and refuse (with an error wrapping ErrTooLarge) a file
// declaring more than maxPixels pixels before allocating or decoding anything.
// The result is an opaque *image.RGBA, or an *image.Gray for grayscale files, with its
// origin at (0,0), before any EXIF orientation. Any error (ErrFastDecline included)
// makes the caller decode the file again with the pure-Go decoder, so the fast decoder
// may refuse anything it is unsure about (warnings, CMYK, ...).
type FastJPEGFunc func(data []byte, minW, minH int, maxPixels int64, buf *JPEGBuffer) (image.Image, error)

type fastDecoder struct {
	name string
	f    FastJPEGFunc
}

var fastJPEG atomic.Pointer[fastDecoder]

// RegisterFastJPEG installs a native JPEG decoder used by DecodeForSpec, LoadBytes,
// LoadFile and the Loader; a nil f removes it (the pure-Go decoder is then used alone).
// name describes it (FastJPEG returns it).
func RegisterFastJPEG(name string, f FastJPEGFunc) {
	if f == nil {
		fastJPEG.Store(nil)
		return
	}
	fastJPEG.Store(&fastDecoder{name: name, f: f})
}

// FastJPEG names the registered native JPEG decoder, "" when there is none (the pure-Go
// decoder does everything).
func FastJPEG() string {
	if d := fastJPEG.Load(); d != nil {
		return d.name
	}
	return ""
}

// decodeMargin is how much larger than the resize's target a DCT-downscaled decode must
// stay: the final antialiased bilinear resize (the filter the backbones were trained
// with) then still does at least a 2× reduction, and the DCT scaling only removes what it
// would average away. Without the margin (decoding a 582×476 JPEG at 1/2 for a 224×224
// squish) SqueezeNet features moved to cosine 0.9978 against Pillow's preprocessing,
// against 0.9999 at full size; see bench.TestFeaturesMatchPillow.
const decodeMargin = 2

// minDecodeSize is the smallest stored-orientation size (w, h) an image with EXIF
// orientation o may be decoded at: decodeMargin times what the spec's resize needs.
func (s Spec) minDecodeSize(o int) (int, int) {
	if s.Resize == ResizeSquish {
		if o >= 5 { // stored transposed: the displayed width is the stored height
			return decodeMargin * s.Height, decodeMargin * s.Width
		}
		return decodeMargin * s.Width, decodeMargin * s.Height
	}
	short := s.ResizeShorter
	if short == 0 {
		short = max(s.Width, s.Height)
	}
	// Scaling keeps the aspect ratio, so a shorter side that large is enough in either
	// orientation.
	return decodeMargin * short, decodeMargin * short
}

// DecodeForSpec decodes an image that will be filled per spec s: like DecodeBytes
// (same bomb guard before any pixel is decoded, same EXIF orientation, same errors), but a
// JPEG may be decoded by the registered native decoder, downscaled in the DCT domain to no
// less than the size the resize needs. The result differs from DecodeBytes's by the
// downscaling (see imageio/turbo's tests for the measured difference after Fill).
func DecodeForSpec(data []byte, s Spec, opt DecodeOptions) (image.Image, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return decodeForSpec(data, s, opt, nil)
}

func decodeForSpec(data []byte, s Spec, opt DecodeOptions, buf *JPEGBuffer) (img image.Image, err error) {
	fd := fastJPEG.Load()
	if fd == nil || Sniff(data) != FormatJPEG {
		return DecodeBytes(data, opt)
	}
	maxPx := opt.MaxPixels
	if maxPx <= 0 {
		maxPx = DefaultMaxPixels
	}
	o := 1
	if !opt.IgnoreOrientation {
		o = ExifOrientation(data)
	}
	minW, minH := s.minDecodeSize(o)
	img, err = callFast(fd, data, minW, minH, maxPx, buf)
	if err != nil {
		// Declined, too large, or a file the native decoder warns about: the pure-Go
		// decoder gives the canonical result or error (a bomb is refused from its header
		// again, cheaply).
		return DecodeBytes(data, opt)
	}
	if o > 1 {
		img = Orient(img, o)
	}
	return img, nil
}

// callFast runs the native decoder, turning a panic into an error (then the pure-Go
// decoder retries the file).
func callFast(fd *fastDecoder, data []byte, minW, minH int, maxPx int64, buf *JPEGBuffer) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%w: %s panicked: %v", ErrFastDecline, fd.name, r)
		}
	}()
	return fd.f(data, minW, minH, maxPx, buf)
}

// jpegBufPool holds decode buffers for LoadBytes (a decoded image is needed only until it
// is filled into the tensor).
var jpegBufPool = sync.Pool{New: func() any { return new(JPEGBuffer) }}

// maxPooledPix bounds the pixel memory a pooled buffer keeps (larger ones are dropped).
const maxPooledPix = 64 << 20

// LoadBytes decodes an in-memory image and fills dst (len >= s.TensorLen()) per the spec,
// like LoadFile; a JPEG goes through the native decoder when one is registered, into
// pooled memory, so the steady state allocates nothing for it.
func LoadBytes(data []byte, s Spec, dst []float32, opt DecodeOptions) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if len(dst) < s.TensorLen() {
		return fmt.Errorf("imageio: LoadBytes: dst has %d values, need %d", len(dst), s.TensorLen())
	}
	buf := jpegBufPool.Get().(*JPEGBuffer)
	defer putJPEGBuffer(buf)
	img, err := decodeForSpec(data, s, opt, buf)
	if err != nil {
		return err
	}
	sc := getScratch()
	defer putScratch(sc)
	n := s.normalizer(dst, false)
	sc.fill(img, s, &n)
	return nil
}

func putJPEGBuffer(b *JPEGBuffer) {
	b.RGBA.Pix, b.Gray.Pix = nil, nil
	if cap(b.Pix) > maxPooledPix {
		b.Pix = nil
	}
	jpegBufPool.Put(b)
}
