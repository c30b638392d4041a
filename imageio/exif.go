package imageio

import (
	"encoding/binary"
	"image"
)

// ExifOrientation returns the EXIF orientation (1..8) stored in the APP1 "Exif" segment
// of a JPEG file, or 1 when there is none or it cannot be read. Only the segments before
// the first scan are looked at.
func ExifOrientation(jpegData []byte) int {
	d := jpegData
	if len(d) < 4 || d[0] != 0xFF || d[1] != 0xD8 {
		return 1
	}
	p := 2
	for p+4 <= len(d) {
		if d[p] != 0xFF {
			return 1
		}
		m := d[p+1]
		if m == 0xFF { // fill byte
			p++
			continue
		}
		p += 2
		switch {
		case m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01:
			continue // markers without a length
		case m == 0xDA || m == 0xD9:
			return 1 // start of scan / end of image: no EXIF before the pixels
		}
		if p+2 > len(d) {
			return 1
		}
		n := int(d[p])<<8 | int(d[p+1])
		if n < 2 || p+n > len(d) {
			return 1
		}
		seg := d[p+2 : p+n]
		p += n
		if m == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			if o := tiffOrientation(seg[6:]); o != 0 {
				return o
			}
		}
	}
	return 1
}

// tiffOrientation reads tag 0x0112 of IFD0 of a TIFF structure; 0 when absent or bad.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	off := int64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > int64(len(t)) {
		return 0
	}
	cnt := int64(bo.Uint16(t[off:]))
	for i := int64(0); i < cnt; i++ {
		e := off + 2 + 12*i
		if e+12 > int64(len(t)) {
			return 0
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		typ, n := bo.Uint16(t[e+2:]), bo.Uint32(t[e+4:])
		var v int
		switch {
		case typ == 3 && n >= 1: // SHORT, stored in the first two bytes of the value field
			v = int(bo.Uint16(t[e+8:]))
		case typ == 4 && n >= 1: // LONG, written by a few odd tools
			v = int(bo.Uint32(t[e+8:]))
		default:
			return 0
		}
		if v >= 1 && v <= 8 {
			return v
		}
		return 0
	}
	return 0
}

// Orient returns img transformed for display according to an EXIF orientation
// (1: as stored; 2: mirrored; 3: rotated 180°; 4: flipped vertically; 5: transposed;
// 6: rotated 90° clockwise; 7: transversed; 8: rotated 90° counter-clockwise).
// Orientations 5–8 swap width and height. The result is an *image.Gray for gray input and
// an opaque *image.RGBA otherwise (alpha composited on white); img itself for 1 or an
// out-of-range value.
func Orient(img image.Image, orientation int) image.Image {
	if orientation < 2 || orientation > 8 {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h
	if orientation >= 5 {
		ow, oh = h, w
	}
	// src maps a destination pixel to the stored pixel.
	src := func(dx, dy int) (int, int) {
		switch orientation {
		case 2:
			return w - 1 - dx, dy
		case 3:
			return w - 1 - dx, h - 1 - dy
		case 4:
			return dx, h - 1 - dy
		case 5:
			return dy, dx
		case 6:
			return dy, h - 1 - dx
		case 7:
			return w - 1 - dy, h - 1 - dx
		default: // 8
			return w - 1 - dy, dx
		}
	}
	if g, ok := img.(*image.Gray); ok {
		out := image.NewGray(image.Rect(0, 0, ow, oh))
		for dy := 0; dy < oh; dy++ {
			for dx := 0; dx < ow; dx++ {
				sx, sy := src(dx, dy)
				out.Pix[dy*out.Stride+dx] = g.Pix[g.PixOffset(b.Min.X+sx, b.Min.Y+sy)]
			}
		}
		return out
	}
	rgb := toRGBA(img)
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for dy := 0; dy < oh; dy++ {
		for dx := 0; dx < ow; dx++ {
			sx, sy := src(dx, dy)
			copy(out.Pix[dy*out.Stride+4*dx:][:4], rgb.Pix[sy*rgb.Stride+4*sx:][:4])
		}
	}
	return out
}

// toRGBA converts any image into an opaque *image.RGBA at origin (0,0), alpha composited
// on white, through the same row readers Fill uses.
func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	sc := getScratch()
	defer putScratch(sc)
	rd := sc.reader(img)
	row := grow(&sc.row, 3*w)
	for y := 0; y < h; y++ {
		rd.readRow(y, 0, w, row)
		p := out.Pix[y*out.Stride:]
		for x := 0; x < w; x++ {
			p[4*x] = to8(row[3*x])
			p[4*x+1] = to8(row[3*x+1])
			p[4*x+2] = to8(row[3*x+2])
			p[4*x+3] = 255
		}
	}
	return out
}

func to8(v float32) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v + 0.5)
}
