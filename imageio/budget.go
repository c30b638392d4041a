package imageio

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
)

// DefaultMaxDecodedBytes is the default limit on the memory one image may take once
// decoded (DecodeOptions.MaxDecodedBytes): 256 MiB. The pixel limit alone is not enough:
// a 616 KB PNG declaring 8,900 × 8,900 16-bit RGBA pixels passes an 80-megapixel guard
// and decodes to 634 MB.
const DefaultMaxDecodedBytes = 256 << 20

// DecodedBytes reads only the header of data and returns an upper bound on the bytes its
// decoding at full size allocates: width × height × bytes per pixel of the decoded image
// (per color model and, for JPEG, per component with its subsampling), plus the
// coefficient buffers of a progressive JPEG and the second buffer of an interlaced PNG or
// an EXIF-rotated JPEG. Errors wrap the Err* values, as Config's do.
func DecodedBytes(data []byte) (int64, error) {
	format, cfg, err := Config(data)
	if err != nil {
		return 0, err
	}
	return decodedBytes(data, format, cfg), nil
}

func decodedBytes(data []byte, format string, cfg image.Config) int64 {
	px := int64(cfg.Width) * int64(cfg.Height) // both ≤ 2^31: no overflow
	switch format {
	case FormatJPEG:
		// Sixteenths of a pixel per component, after subsampling.
		planes, progressive, ok := jpegPlanes(data)
		if !ok {
			planes = 16 * 4 // unknown: as if 4 full-resolution components
		}
		per := int64(planes) // 1 byte per sample
		if progressive {
			per += 4 * int64(planes) // one int32 coefficient per sample, kept for every scan
		}
		if cfg.ColorModel == color.CMYKModel {
			per += 16 * 4 // converted into a CMYK image
		}
		n := satMul(px, per) / 16
		if ExifOrientation(data) > 1 {
			n = satAdd(n, satMul(px, 4)) // Orient copies into RGBA
		}
		return n
	case FormatPNG:
		n := satMul(px, bytesPerPixel(cfg.ColorModel))
		// IHDR: 8-byte signature, length, "IHDR", width, height, depth, color type,
		// compression, filter, interlace (byte 28).
		if len(data) > 28 && data[28] == 1 {
			n = satMul(n, 2) // Adam7 passes are decoded into their own images
		}
		return n
	}
	return satMul(px, bytesPerPixel(cfg.ColorModel))
}

// bytesPerPixel of an image decoded with color model m (8 when unknown).
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// jpegPlanes reads the SOF segment of a JPEG: the sum over components of
// 16 × (h·v)/(hmax·vmax) (the sixteenths of a sample per pixel), and whether the file is
// progressive.
func jpegPlanes(data []byte) (sixteenths int, progressive, ok bool) {
	i := 2
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return 0, false, false
		}
		m := data[i+1]
		if m == 0xFF { // fill byte
			i++
			continue
		}
		if m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 {
			return 0, false, false
		}
		isSOF := m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
		if isSOF {
			seg := data[i+4 : min(len(data), i+2+n)]
			if len(seg) < 6 {
				return 0, false, false
			}
			nc := int(seg[5])
			if nc < 1 || len(seg) < 6+3*nc {
				return 0, false, false
			}
			hmax, vmax := 1, 1
			for c := range nc {
				hv := seg[6+3*c+1]
				hmax, vmax = max(hmax, int(hv>>4)), max(vmax, int(hv&15))
			}
			for c := range nc {
				hv := seg[6+3*c+1]
				h, v := max(1, int(hv>>4)), max(1, int(hv&15))
				// Rounded up: a subsampled plane is padded to whole blocks.
				sixteenths += (16*h*v + hmax*vmax - 1) / (hmax * vmax)
			}
			progressive = m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE
			return sixteenths, progressive, true
		}
		if m == 0xDA { // start of scan before any SOF
			return 0, false, false
		}
		i += 2 + n
	}
	return 0, false, false
}

func satMul(a, b int64) int64 {
	if a != 0 && b > (1<<62)/a {
		return 1 << 62
	}
	return a * b
}

func satAdd(a, b int64) int64 {
	if a > (1<<62)-b {
		return 1 << 62
	}
	return a + b
}

// checkDecoded refuses an image whose decoding would take more than the limit.
func checkDecoded(data []byte, format string, cfg image.Config, limit int64) error {
	if limit <= 0 {
		limit = DefaultMaxDecodedBytes
	}
	if n := decodedBytes(data, format, cfg); n > limit {
		return fmt.Errorf("%w: %s header declares %dx%d, which decodes to about %d MB, limit %d MB", ErrTooLarge, format, cfg.Width, cfg.Height, n>>20, limit>>20)
	}
	return nil
}
