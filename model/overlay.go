package model

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"math"
	"sync"

	"github.com/multilabel/multilabel/imageio"
)

// MaxOverlaySide bounds the longer side of an overlay PNG in pixels: the overlay is
// drawn at the model's input size (224×224 for the zoo backbones), scaled down when
// that is larger. A 224×224 overlay is typically 60–110 KB (about 4/3 of that in
// base64 in the HTTP answer).
const MaxOverlaySide = 256

// overlaySize is the overlay's size for an input of w×h.
func overlaySize(w, h int) (int, int) {
	if s := max(w, h); s > MaxOverlaySide {
		return max(1, w*MaxOverlaySide/s), max(1, h*MaxOverlaySide/s)
	}
	return w, h
}

// overlay draws a label map (h×w values, row-major) over the image the model saw (the
// preprocessed tensor of one image, undone): the map is upsampled bilinearly (pixel
// centres aligned), scaled to 0..1 between its own minimum and maximum, coloured from
// blue (low) through green and yellow to red (high) and alpha-blended over the image,
// more opaque where the map is high. It returns the PNG.
func overlay(spec imageio.Spec, tensor []float32, vals []float32, h, w int) ([]byte, error) {
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range vals {
		if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	span := hi - lo
	if !(span > 0) || math.IsInf(float64(span), 0) {
		lo, span = 0, 1
	}
	W, H := overlaySize(spec.Width, spec.Height)
	stride := 1 + 3*W // a filter byte, then RGB
	raw := make([]byte, H*stride)
	view := newViewer(spec, tensor)
	// Bilinear taps along each axis: source index and weight of the upper neighbour.
	taps := func(n, src int) ([]int, []float32) {
		idx, wt := make([]int, n), make([]float32, n)
		for i := range n {
			u := (float64(i)+0.5)*float64(src)/float64(n) - 0.5
			u = math.Max(0, math.Min(u, float64(src-1)))
			f := math.Floor(u)
			idx[i], wt[i] = int(f), float32(u-f)
		}
		return idx, wt
	}
	xi, xw := taps(W, w)
	yi, yw := taps(H, h)
	scale := float32(len(heatLUT)-1) / span
	// Source pixel of each output column in the view (nearest), as offsets into the
	// tensor's three channel planes (NCHW) or its pixel triples (NHWC).
	cstep := 1
	if spec.Layout != "NHWC" {
		cstep = spec.Width * spec.Height
	}
	colOff := make([]int, W)
	for x := range colOff {
		sx := (x*spec.Width + spec.Width/2) / W
		colOff[x] = sx
		if spec.Layout == "NHWC" {
			colOff[x] = 3 * sx
		}
	}
	rowStride := spec.Width
	if spec.Layout == "NHWC" {
		rowStride = 3 * spec.Width
	}
	// rgb = tensor·a + b per RGB component, from the channel holding it.
	var ra, rb [3]float32
	var roff [3]int
	for c := 0; c < 3; c++ {
		k := view.src[c]
		ra[k], rb[k], roff[k] = view.a[c], view.b[c], c*cstep
	}
	t := tensor
	for y := range H {
		y0, fy := yi[y], yw[y]
		y1 := min(y0+1, h-1)
		sy := (y*spec.Height + spec.Height/2) / H // nearest source row of the view
		base := sy * rowStride
		row := raw[y*stride+1 : (y+1)*stride]
		m0, m1 := vals[y0*w:(y0+1)*w], vals[y1*w:(y1+1)*w]
		for x := range W {
			x0, fx := xi[x], xw[x]
			x1 := min(x0+1, w-1)
			a := m0[x0] + (m0[x1]-m0[x0])*fx
			b := m1[x0] + (m1[x1]-m1[x0])*fx
			level := ((a + (b-a)*fy) - lo) * scale
			if !(level >= 0) { // below the minimum, or NaN
				level = 0
			}
			c := &heatLUT[int(min(level, float32(len(heatLUT)-1)))]
			o := base + colOff[x]
			p := row[3*x : 3*x+3]
			p[0] = to8(c.keep*(t[o+roff[0]]*ra[0]+rb[0]) + c.r)
			p[1] = to8(c.keep*(t[o+roff[1]]*ra[1]+rb[1]) + c.g)
			p[2] = to8(c.keep*(t[o+roff[2]]*ra[2]+rb[2]) + c.b)
		}
		// PNG filter "Sub" on every row (right to left, in place): one cheap fixed
		// filter instead of image/png's per-row choice among five, which took most of
		// the encoding time.
		raw[y*stride] = 1
		for i := len(row) - 1; i >= 3; i-- {
			row[i] -= row[i-3]
		}
	}
	return encodePNG(W, H, raw)
}

// heatLUT holds, for 256 levels of a map scaled to 0..1, the blend of its colour over
// the image: out = keep·image + (r, g, b) with the colour's opacity rising with the
// level (0.25 at the bottom, 0.7 at the top).
var heatLUT = func() (lut [256]struct{ keep, r, g, b float32 }) {
	for i := range lut {
		t := float32(i) / 255
		cr, cg, cb := heat(t)
		alpha := 0.25 + 0.45*t
		lut[i].keep, lut[i].r, lut[i].g, lut[i].b = 1-alpha, alpha*cr, alpha*cg, alpha*cb
	}
	return lut
}()

// zlibPool holds Huffman-only compressors: on the Sub-filtered rows of an overlay,
// entropy coding without match search wrote smaller files than zlib's fastest level
// (60.7 KB against 64.1 KB for MIML's 1.jpg) in a fraction of its time.
var zlibPool = sync.Pool{New: func() any {
	z, _ := zlib.NewWriterLevel(nil, zlib.HuffmanOnly)
	return z
}}

// encodePNG writes a W×H 8-bit RGB PNG from its filtered scanlines (each a filter
// byte then 3·W bytes): signature, IHDR, one IDAT (zlib, Huffman only), IEND.
func encodePNG(W, H int, raw []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(raw)/2 + 64)
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		out.Write(n[:])
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		out.WriteString(typ)
		out.Write(data)
		binary.BigEndian.PutUint32(n[:], crc.Sum32())
		out.Write(n[:])
	}
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(W))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(H))
	ihdr[8], ihdr[9] = 8, 2 // 8 bits, truecolour; compression, filter, interlace 0
	chunk("IHDR", ihdr[:])
	var z bytes.Buffer
	z.Grow(len(raw) / 2)
	zw := zlibPool.Get().(*zlib.Writer)
	zw.Reset(&z)
	_, err := zw.Write(raw)
	if err == nil {
		err = zw.Close()
	}
	zlibPool.Put(zw)
	if err != nil {
		return nil, err
	}
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return out.Bytes(), nil
}

// heat maps t in 0..1 to a colour (0..255 per channel): blue, cyan, green, yellow, red.
func heat(t float32) (float32, float32, float32) {
	t = min(max(t, 0), 1)
	stops := [5][3]float32{{0, 0, 255}, {0, 200, 255}, {0, 220, 0}, {255, 230, 0}, {255, 0, 0}}
	u := t * 4
	i := min(int(u), 3)
	f := u - float32(i)
	a, b := stops[i], stops[i+1]
	return a[0] + (b[0]-a[0])*f, a[1] + (b[1]-a[1])*f, a[2] + (b[2]-a[2])*f
}

func to8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// viewer reads RGB 0..255 back from a preprocessed tensor (imageio.Spec.Fill undone).
type viewer struct {
	spec imageio.Spec
	t    []float32
	a, b [3]float32 // per tensor channel: rgb = v·a + b
	src  [3]int     // RGB index each tensor channel holds
}

func newViewer(s imageio.Spec, t []float32) *viewer {
	v := &viewer{spec: s, t: t}
	for c := 0; c < 3; c++ {
		std := s.Std[c]
		if std == 0 {
			std = 1
		}
		v.a[c] = std * 255 / s.Scale
		v.b[c] = s.Mean[c] * 255 / s.Scale
		v.src[c] = c
		if s.ChannelOrder == "BGR" {
			v.src[c] = 2 - c
		}
	}
	return v
}

func (v *viewer) rgb(x, y int) (float32, float32, float32) {
	var out [3]float32
	W, H := v.spec.Width, v.spec.Height
	for c := 0; c < 3; c++ {
		var t float32
		if v.spec.Layout == "NHWC" {
			t = v.t[(y*W+x)*3+c]
		} else {
			t = v.t[c*W*H+y*W+x]
		}
		out[v.src[c]] = t*v.a[c] + v.b[c]
	}
	return out[0], out[1], out[2]
}
