// Package imageio decodes images safely (bounded size) and turns them into model-ready
// float32 tensors according to a preprocessing spec, with training augmentation and a
// parallel loader.
package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // GIF decoder (first frame)
	_ "image/jpeg" // JPEG decoder
	_ "image/png"  // PNG decoder
	"os"

	_ "golang.org/x/image/bmp"  // BMP decoder
	_ "golang.org/x/image/webp" // WebP decoder
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
}

// DecodeFile reads and decodes the image at path. The header is checked against
// opt.MaxPixels before any pixel is decoded. Errors name the file and wrap one of the
// Err* values above.
func DecodeFile(path string, opt DecodeOptions) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, err := DecodeBytes(data, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// DecodeBytes decodes an in-memory image; see DecodeFile.
func DecodeBytes(data []byte, opt DecodeOptions) (image.Image, error) {
	if len(data) == 0 {
		return nil, ErrEmpty
	}
	max := opt.MaxPixels
	if max <= 0 {
		max = DefaultMaxPixels
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, ErrUnknownFmt
		}
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: header declares %dx%d", ErrCorrupt, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > max {
		return nil, fmt.Errorf("%w: header declares %dx%d = %d pixels, limit %d", ErrTooLarge, cfg.Width, cfg.Height, int64(cfg.Width)*int64(cfg.Height), max)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return img, nil
}
