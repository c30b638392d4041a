// Package imageio decodes images safely (bounded size) and turns them into model-ready
// float32 tensors according to a preprocessing spec, with training augmentation and a
// parallel loader.
//
// Decoding: JPEG (baseline, progressive, grayscale, CMYK/YCCK, with the EXIF orientation
// applied), PNG (8/16-bit, paletted, alpha), GIF (first frame), BMP and WebP. The header is
// read first and an image declaring more than DecodeOptions.MaxPixels pixels, or whose
// decoded pixels would take more than DecodeOptions.MaxDecodedBytes, is refused before
// any pixel buffer is allocated, so a decompression bomb costs microseconds.
//
// Alpha policy: transparent pixels are composited on white (a PNG logo on a transparent
// background looks like a product shot on white, not a black hole).
//
// Resizing follows Pillow's BILINEAR filter (the one torchvision uses on PIL images): a
// triangle filter whose support widens with the downscaling ratio, i.e. antialiased
// bilinear. See Spec.Fill.
package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"sync"
	"unicode/utf8"

	"golang.org/x/image/bmp"
	"golang.org/x/image/webp"
)

// DefaultMaxPixels is the default limit on width×height declared by an image header.
const DefaultMaxPixels = 80_000_000

// Errors that classify why an image could not be used; wrapped with the file name.
var (
	ErrEmpty      = errors.New("empty file")
	ErrTooLarge   = errors.New("image too large")
	ErrUnknownFmt = errors.New("not a supported image format")
	ErrCorrupt    = errors.New("corrupt or truncated image")
)

// DecodeOptions bounds decoding.
type DecodeOptions struct {
	// MaxPixels refuses images whose header declares more pixels; 0 means DefaultMaxPixels.
	MaxPixels int64
	// MaxDecodedBytes refuses images whose decoding would allocate more bytes (see
	// DecodedBytes: width × height × channels × bytes per sample, and the decoder's
	// extra buffers), checked from the header before decoding; 0 means
	// DefaultMaxDecodedBytes.
	MaxDecodedBytes int64
	// IgnoreOrientation skips the EXIF orientation of JPEG files (it is applied by default).
	IgnoreOrientation bool
}

// Format names returned by Sniff.
const (
	FormatJPEG = "jpeg"
	FormatPNG  = "png"
	FormatGIF  = "gif"
	FormatBMP  = "bmp"
	FormatWebP = "webp"
)

// Sniff names the image format from the first bytes of data ("" if it is none of the
// supported ones).
func Sniff(data []byte) string {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return FormatJPEG
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return FormatPNG
	case bytes.HasPrefix(data, []byte("GIF87a")) || bytes.HasPrefix(data, []byte("GIF89a")):
		return FormatGIF
	case bytes.HasPrefix(data, []byte("BM")):
		return FormatBMP
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return FormatWebP
	}
	return ""
}

// describeUnknown says what an unsupported file looks like, for error messages.
func describeUnknown(data []byte) string {
	head := data
	if len(head) > 16 {
		head = head[:16]
	}
	switch {
	case bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*")):
		return "looks like TIFF, which is not supported"
	case len(data) >= 12 && string(data[4:8]) == "ftyp":
		return fmt.Sprintf("looks like an ISO media file (%q: HEIC/AVIF/MP4), which is not supported", data[8:12])
	case bytes.HasPrefix(data, []byte("%PDF")):
		return "looks like a PDF"
	case len(data) >= 2 && data[0] == 0xFF && data[1] == 0xD8:
		return "JPEG start marker without a following segment"
	}
	sample := data
	if len(sample) > 512 {
		sample = sample[:512]
	}
	// Nothing of the file's content is echoed: a label file may name any readable file
	// (a key, a password database), and messages end up in logs and API responses.
	if isText(sample) {
		return fmt.Sprintf("looks like text (%d bytes)", len(data))
	}
	return fmt.Sprintf("an unrecognised binary format (%d bytes)", len(data))
}

func isText(b []byte) bool {
	// A cut multi-byte rune at the end of the sample is fine.
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 && len(b) > 3 {
			return false
		}
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
		b = b[n:]
	}
	return true
}

// DecodeFile reads and decodes the image at path. The header is checked against
// opt.MaxPixels before any pixel is decoded. Errors name the file and wrap one of the
// Err* values above (or the os error for a missing or unreadable file).
func DecodeFile(path string, opt DecodeOptions) (image.Image, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err // *fs.PathError already names the file
	}
	img, err := DecodeBytes(data, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// readFileInto reads path into *buf (grown as needed), so a worker can reuse one buffer.
func readFileInto(path string, buf *[]byte) ([]byte, error) {
	if archive, off, size, _, ok := ParseMemberPath(path); ok {
		return readMember(path, archive, off, size, buf)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := (*buf)[:0]
	if cap(b) < 64<<10 {
		b = make([]byte, 0, 64<<10)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	*buf = b
	return b, nil
}

var readerPool = sync.Pool{New: func() any { return new(bytes.Reader) }}

func putReader(r *bytes.Reader) {
	r.Reset(nil) // do not keep the file's bytes alive
	readerPool.Put(r)
}

// Config reads only the header of data and returns its format and declared size
// (before EXIF orientation). Errors wrap the Err* values.
func Config(data []byte) (format string, cfg image.Config, err error) {
	if len(data) == 0 {
		return "", cfg, ErrEmpty
	}
	format = Sniff(data)
	r := readerPool.Get().(*bytes.Reader)
	defer putReader(r)
	r.Reset(data)
	switch format {
	case FormatJPEG:
		cfg, err = jpeg.DecodeConfig(r)
	case FormatPNG:
		cfg, err = png.DecodeConfig(r)
	case FormatGIF:
		cfg, err = gif.DecodeConfig(r)
	case FormatBMP:
		cfg, err = bmp.DecodeConfig(r)
	case FormatWebP:
		cfg, err = webp.DecodeConfig(r)
	default:
		return "", cfg, fmt.Errorf("%w: %s", ErrUnknownFmt, describeUnknown(data))
	}
	if err != nil {
		if errors.Is(err, bmp.ErrUnsupported) {
			return format, cfg, fmt.Errorf("%w: %s header: %v", ErrUnknownFmt, format, err)
		}
		return format, cfg, fmt.Errorf("%w: %s header: %v", ErrCorrupt, format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return format, cfg, fmt.Errorf("%w: %s header declares %dx%d", ErrCorrupt, format, cfg.Width, cfg.Height)
	}
	return format, cfg, nil
}

// DecodeBytes decodes an in-memory image; see DecodeFile.
func DecodeBytes(data []byte, opt DecodeOptions) (img image.Image, err error) {
	format, cfg, err := Config(data)
	if err != nil {
		return nil, err
	}
	max := opt.MaxPixels
	if max <= 0 {
		max = DefaultMaxPixels
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > max {
		return nil, fmt.Errorf("%w: %s header declares %dx%d = %d pixels, limit %d", ErrTooLarge, format, cfg.Width, cfg.Height, px, max)
	}
	if err := checkDecoded(data, format, cfg, opt.MaxDecodedBytes); err != nil {
		return nil, err
	}
	// The standard decoders do not panic on bad input as far as we know, but a panic on
	// one hostile file must not take a whole loader down.
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%w: %s decoder panicked: %v", ErrCorrupt, format, r)
		}
	}()
	r := readerPool.Get().(*bytes.Reader)
	defer putReader(r)
	r.Reset(data)
	switch format {
	case FormatJPEG:
		img, err = jpeg.Decode(r)
	case FormatPNG:
		img, err = png.Decode(r)
	case FormatGIF:
		img, err = gif.Decode(r)
	case FormatBMP:
		img, err = bmp.Decode(r)
	case FormatWebP:
		img, err = webp.Decode(r)
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s truncated (%d bytes): %v", ErrCorrupt, format, len(data), err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, format, err)
	}
	if format == FormatJPEG && !opt.IgnoreOrientation {
		if o := ExifOrientation(data); o > 1 {
			img = Orient(img, o)
		}
	}
	return img, nil
}
