package imageio

import (
	"image"
	"image/color"
	"math"
	"sync"
)

// This file holds the resampler behind Spec.Fill and Augment.Fill: row readers that turn
// any decoded image row into float32 RGB (0..255) without per-pixel interface calls, and
// a separable antialiased bilinear resampler (Pillow's BILINEAR semantics) that computes
// only the output window that is kept (the center crop), with pooled scratch buffers.

// rowReader writes the RGB values (0..255, alpha composited on white) of the pixels
// [x0, x1) of row y (coordinates relative to the image's Bounds().Min) into
// dst[:3*(x1-x0)].
type rowReader interface {
	readRow(y, x0, x1 int, dst []float32)
}

// scratch is the per-call working memory, pooled so that steady-state filling allocates
// nothing.
type scratch struct {
	hw, vw weights
	row    []float32 // one source row, RGB
	tmp    []float32 // horizontally resampled source rows
	hwc    []float32 // the output window, RGB, H×W×3
	cb, cr []float32 // chroma rows of the YCbCr reader

	ycc     ycbcrReader
	nycca   nycbcraReader
	rgba    rgbaReader
	nrgba   nrgbaReader
	gray    grayReader
	pal     palettedReader
	cmyk    cmykReader
	gray16  gray16Reader
	rgba64  rgba64Reader
	nrgba64 nrgba64Reader
	generic genericReader
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	// Drop the image references so the pool does not keep decoded images alive.
	s.nycca.m, s.nycca.ycc = nil, nil
	s.ycc.m, s.rgba.m, s.nrgba.m, s.gray.m, s.pal.m = nil, nil, nil, nil, nil
	s.cmyk.m, s.gray16.m, s.rgba64.m, s.nrgba64.m, s.generic.m = nil, nil, nil, nil, nil
	// Do not keep the buffers of one huge image around.
	const maxKeep = 4 << 20 // float32s
	if cap(s.tmp) > maxKeep {
		s.tmp = nil
	}
	if cap(s.hwc) > maxKeep {
		s.hwc = nil
	}
	scratchPool.Put(s)
}

// grow returns (*buf)[:n], reallocating only when the capacity is short.
func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	*buf = (*buf)[:n]
	return *buf
}

// reader picks the row reader for img's concrete type.
func (s *scratch) reader(img image.Image) rowReader {
	switch m := img.(type) {
	case *image.YCbCr:
		s.ycc.m, s.ycc.s = m, s
		s.ycc.tx0, s.ycc.tx1 = -1, -1 // recompute the column taps
		return &s.ycc
	case *image.NYCbCrA: // lossy WebP with alpha
		s.ycc.m, s.ycc.s = &m.YCbCr, s
		s.ycc.tx0, s.ycc.tx1 = -1, -1
		s.nycca.ycc, s.nycca.m = &s.ycc, m
		return &s.nycca
	case *image.RGBA:
		s.rgba.m = m
		return &s.rgba
	case *image.NRGBA:
		s.nrgba.m = m
		return &s.nrgba
	case *image.Gray:
		s.gray.m = m
		return &s.gray
	case *image.Paletted:
		s.pal.set(m)
		return &s.pal
	case *image.CMYK:
		s.cmyk.m = m
		return &s.cmyk
	case *image.Gray16:
		s.gray16.m = m
		return &s.gray16
	case *image.RGBA64:
		s.rgba64.m = m
		return &s.rgba64
	case *image.NRGBA64:
		s.nrgba64.m = m
		return &s.nrgba64
	}
	s.generic.m = img
	return &s.generic
}

// --- row readers -------------------------------------------------------------------

type ycbcrReader struct {
	m *image.YCbCr
	s *scratch
	// chroma column taps cached for one window: ci nearest sample, cn the other one
	ci, cn                    []int32
	c0                        int
	tx0, tx1, ths, tminX, tcw int
}

func clamp255(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return v
}

// readRow converts YCbCr to RGB with JFIF's full-range equations. Subsampled chroma is
// upsampled with the triangle ("fancy") filter libjpeg uses for 2× factors (centered
// siting: 3/4 of the nearer sample, 1/4 of the other), nearest for 4× factors.
func (r *ycbcrReader) readRow(y, x0, x1 int, dst []float32) {
	m := r.m
	hs, vs := 1, 1
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hs = 2
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		vs = 2
	case image.YCbCrSubsampleRatio411:
		hs = 4
	case image.YCbCrSubsampleRatio410:
		hs, vs = 4, 2
	}
	minX, minY := m.Rect.Min.X, m.Rect.Min.Y
	ay := minY + y
	yrow := m.Y[y*m.YStride+x0 : y*m.YStride+x1]
	// Chroma grid in chroma coordinates relative to the plane's first sample.
	cw := (m.Rect.Max.X+hs-1)/hs - minX/hs
	ch := (m.Rect.Max.Y+vs-1)/vs - minY/vs
	cy := ay/vs - minY/vs
	cy2 := cy
	if vs == 2 {
		if ay%2 == 0 {
			cy2 = cy - 1
		} else {
			cy2 = cy + 1
		}
		cy2 = min(max(cy2, 0), ch-1)
	}
	// Per-column chroma taps, the same for every row of one image and window.
	if r.tx0 != x0 || r.tx1 != x1 || r.ths != hs || r.tminX != minX || r.tcw != cw {
		r.tx0, r.tx1, r.ths, r.tminX, r.tcw = x0, x1, hs, minX, cw
		r.ci = r.ci[:0]
		r.cn = r.cn[:0]
		for x := x0; x < x1; x++ {
			ax := minX + x
			ci := ax/hs - minX/hs
			cn := ci
			if hs == 2 {
				if ax%2 == 0 {
					cn = ci - 1
				} else {
					cn = ci + 1
				}
				cn = min(max(cn, 0), cw-1)
			}
			r.ci = append(r.ci, int32(ci))
			r.cn = append(r.cn, int32(cn))
		}
		r.c0 = max(x0/hs-1, 0)
		if n := len(r.ci); n > 0 {
			r.c0 = int(min(r.ci[0], r.cn[0]))
		}
	}
	c0 := r.c0
	c1 := min((minX+x1-1)/hs-minX/hs+2, cw)
	cb := grow(&r.s.cb, c1-c0)
	cr := grow(&r.s.cr, c1-c0)
	rb, rr := m.Cb[cy*m.CStride+c0:cy*m.CStride+c1], m.Cr[cy*m.CStride+c0:cy*m.CStride+c1]
	if cy2 != cy {
		rb2, rr2 := m.Cb[cy2*m.CStride+c0:cy2*m.CStride+c1], m.Cr[cy2*m.CStride+c0:cy2*m.CStride+c1]
		for i := range cb {
			cb[i] = 0.75*float32(rb[i]) + 0.25*float32(rb2[i]) - 128
			cr[i] = 0.75*float32(rr[i]) + 0.25*float32(rr2[i]) - 128
		}
	} else {
		for i := range cb {
			cb[i] = float32(rb[i]) - 128
			cr[i] = float32(rr[i]) - 128
		}
	}
	d := dst[:3*len(yrow)]
	if hs == 2 && (minX+x0)%2 == 0 && len(yrow)%2 == 0 {
		// Pixel pairs (2k, 2k+1) share chroma sample k and take 1/4 of k−1 and k+1.
		k := int(r.ci[0]) - c0
		kl := int(r.cn[0]) - c0 // k−1, or k at the left border
		pb, b0 := cb[kl], cb[k]
		pr, r0 := cr[kl], cr[k]
		last := len(cb) - 1
		for p := 0; p < len(yrow)/2; p++ {
			kn := min(k+p+1, last)
			nb, nr := cb[kn], cr[kn]
			vbl, vrl := 0.75*b0+0.25*pb, 0.75*r0+0.25*pr
			vbr, vrr := 0.75*b0+0.25*nb, 0.75*r0+0.25*nr
			y2 := yrow[2*p : 2*p+2]
			o := d[6*p : 6*p+6]
			y0, y1 := float32(y2[0]), float32(y2[1])
			o[0] = clamp255(y0 + 1.402*vrl)
			o[1] = clamp255(y0 - 0.344136*vbl - 0.714136*vrl)
			o[2] = clamp255(y0 + 1.772*vbl)
			o[3] = clamp255(y1 + 1.402*vrr)
			o[4] = clamp255(y1 - 0.344136*vbr - 0.714136*vrr)
			o[5] = clamp255(y1 + 1.772*vbr)
			pb, b0, pr, r0 = b0, nb, r0, nr
		}
		return
	}
	cis, cns := r.ci[:len(yrow)], r.cn[:len(yrow)]
	for x, yv := range yrow {
		ci, cn := int(cis[x])-c0, int(cns[x])-c0
		vb := 0.75*cb[ci] + 0.25*cb[cn]
		vr := 0.75*cr[ci] + 0.25*cr[cn]
		yy := float32(yv)
		o := d[3*x : 3*x+3]
		o[0] = clamp255(yy + 1.402*vr)
		o[1] = clamp255(yy - 0.344136*vb - 0.714136*vr)
		o[2] = clamp255(yy + 1.772*vb)
	}
}

// nycbcraReader is a YCbCr image with a non-premultiplied alpha plane.
type nycbcraReader struct {
	ycc *ycbcrReader
	m   *image.NYCbCrA
}

func (r *nycbcraReader) readRow(y, x0, x1 int, dst []float32) {
	r.ycc.readRow(y, x0, x1, dst)
	a := r.m.A[y*r.m.AStride+x0 : y*r.m.AStride+x1]
	d := dst[:3*len(a)]
	for i, av := range a {
		if av == 255 {
			continue
		}
		f := float32(av) / 255
		bg := 255 * (1 - f)
		d[3*i] = d[3*i]*f + bg
		d[3*i+1] = d[3*i+1]*f + bg
		d[3*i+2] = d[3*i+2]*f + bg
	}
}

type rgbaReader struct{ m *image.RGBA }

func (r *rgbaReader) readRow(y, x0, x1 int, dst []float32) {
	p := r.m.Pix[y*r.m.Stride+4*x0 : y*r.m.Stride+4*x1]
	d := dst[:3*(x1-x0)]
	for i := 0; i < x1-x0; i++ {
		q := p[4*i : 4*i+4]
		bg := float32(255 - int(q[3])) // premultiplied: composite on white by adding (1-a)·255
		d[3*i] = float32(q[0]) + bg
		d[3*i+1] = float32(q[1]) + bg
		d[3*i+2] = float32(q[2]) + bg
	}
}

type nrgbaReader struct{ m *image.NRGBA }

func (r *nrgbaReader) readRow(y, x0, x1 int, dst []float32) {
	p := r.m.Pix[y*r.m.Stride+4*x0 : y*r.m.Stride+4*x1]
	d := dst[:3*(x1-x0)]
	for i := 0; i < x1-x0; i++ {
		q := p[4*i : 4*i+4]
		if q[3] == 255 {
			d[3*i], d[3*i+1], d[3*i+2] = float32(q[0]), float32(q[1]), float32(q[2])
			continue
		}
		a := float32(q[3]) / 255
		bg := 255 * (1 - a)
		d[3*i] = float32(q[0])*a + bg
		d[3*i+1] = float32(q[1])*a + bg
		d[3*i+2] = float32(q[2])*a + bg
	}
}

type grayReader struct{ m *image.Gray }

func (r *grayReader) readRow(y, x0, x1 int, dst []float32) {
	p := r.m.Pix[y*r.m.Stride+x0 : y*r.m.Stride+x1]
	d := dst[:3*len(p)]
	for i, v := range p {
		f := float32(v)
		d[3*i], d[3*i+1], d[3*i+2] = f, f, f
	}
}

type palettedReader struct {
	m   *image.Paletted
	lut [256 * 3]float32
}

func (r *palettedReader) set(m *image.Paletted) {
	r.m = m
	for i := range 256 {
		var c color.Color = color.Black // out-of-palette indices read as black, like At
		if i < len(m.Palette) {
			c = m.Palette[i]
		}
		cr, cg, cb, ca := c.RGBA()
		bg := float32(0xffff-ca) / 257
		r.lut[3*i] = float32(cr)/257 + bg
		r.lut[3*i+1] = float32(cg)/257 + bg
		r.lut[3*i+2] = float32(cb)/257 + bg
	}
}

func (r *palettedReader) readRow(y, x0, x1 int, dst []float32) {
	p := r.m.Pix[y*r.m.Stride+x0 : y*r.m.Stride+x1]
	d := dst[:3*len(p)]
	for i, v := range p {
		copy(d[3*i:3*i+3], r.lut[3*int(v):3*int(v)+3])
	}
}

type cmykReader struct{ m *image.CMYK }

func (r *cmykReader) readRow(y, x0, x1 int, dst []float32) {
	p := r.m.Pix[y*r.m.Stride+4*x0 : y*r.m.Stride+4*x1]
	d := dst[:3*(x1-x0)]
	for i := 0; i < x1-x0; i++ {
		q := p[4*i : 4*i+4]
		w := float32(255-int(q[3])) / 255
		d[3*i] = float32(255-int(q[0])) * w
		d[3*i+1] = float32(255-int(q[1])) * w
		d[3*i+2] = float32(255-int(q[2])) * w
	}
}

type gray16Reader struct{ m *image.Gray16 }

func (r *gray16Reader) readRow(y, x0, x1 int, dst []float32) {
	p := r.m.Pix[y*r.m.Stride+2*x0 : y*r.m.Stride+2*x1]
	d := dst[:3*(x1-x0)]
	for i := 0; i < x1-x0; i++ {
		f := float32(int(p[2*i])<<8|int(p[2*i+1])) / 257
		d[3*i], d[3*i+1], d[3*i+2] = f, f, f
	}
}

type rgba64Reader struct{ m *image.RGBA64 }

func (r *rgba64Reader) readRow(y, x0, x1 int, dst []float32) {
	p := r.m.Pix[y*r.m.Stride+8*x0 : y*r.m.Stride+8*x1]
	d := dst[:3*(x1-x0)]
	for i := 0; i < x1-x0; i++ {
		q := p[8*i : 8*i+8]
		bg := float32(0xffff-(int(q[6])<<8|int(q[7]))) / 257
		d[3*i] = float32(int(q[0])<<8|int(q[1]))/257 + bg
		d[3*i+1] = float32(int(q[2])<<8|int(q[3]))/257 + bg
		d[3*i+2] = float32(int(q[4])<<8|int(q[5]))/257 + bg
	}
}

type nrgba64Reader struct{ m *image.NRGBA64 }

func (r *nrgba64Reader) readRow(y, x0, x1 int, dst []float32) {
	p := r.m.Pix[y*r.m.Stride+8*x0 : y*r.m.Stride+8*x1]
	d := dst[:3*(x1-x0)]
	for i := 0; i < x1-x0; i++ {
		q := p[8*i : 8*i+8]
		a := float32(int(q[6])<<8|int(q[7])) / 0xffff
		bg := 255 * (1 - a)
		d[3*i] = float32(int(q[0])<<8|int(q[1]))/257*a + bg
		d[3*i+1] = float32(int(q[2])<<8|int(q[3]))/257*a + bg
		d[3*i+2] = float32(int(q[4])<<8|int(q[5]))/257*a + bg
	}
}

// genericReader handles any other image.Image through At (one interface call per pixel).
type genericReader struct{ m image.Image }

func (r *genericReader) readRow(y, x0, x1 int, dst []float32) {
	b := r.m.Bounds()
	d := dst[:3*(x1-x0)]
	for x := x0; x < x1; x++ {
		cr, cg, cb, ca := r.m.At(b.Min.X+x, b.Min.Y+y).RGBA()
		bg := float32(0xffff-ca) / 257
		i := 3 * (x - x0)
		d[i] = float32(cr)/257 + bg
		d[i+1] = float32(cg)/257 + bg
		d[i+2] = float32(cb)/257 + bg
	}
}

// --- weights -----------------------------------------------------------------------

// weights are the filter taps of one resampling direction, for a window of outputs.
type weights struct {
	start  []int     // first source index of each output
	n      []int     // number of taps of each output
	w      []float32 // taps, k per output
	k      int
	single bool // every output is one source sample with weight 1 (a pure gather)
	lo, hi int  // source range touched: [lo, hi)
	tmp    []float64
}

// compute fills the taps for outputs first..first+count-1 of resampling the source range
// [in0, in1) of an axis of inSize samples onto outSize samples with the triangle filter,
// its support widened by the downscaling ratio (antialiasing), the way Pillow's BILINEAR
// does: output i is centered at in0 + (i+0.5)·scale, taps are normalized to sum to 1.
func (wt *weights) compute(inSize int, in0, in1 float64, outSize, first, count int) {
	scale := (in1 - in0) / float64(outSize)
	fs := max(scale, 1.0)
	support := fs // the triangle's support is 1 at scale 1
	k := int(math.Ceil(support))*2 + 1
	wt.k = k
	if cap(wt.start) < count {
		wt.start, wt.n = make([]int, count), make([]int, count)
	}
	wt.start, wt.n = wt.start[:count], wt.n[:count]
	wt.w = grow(&wt.w, count*k)
	wt.single = true
	wt.lo, wt.hi = inSize, 0
	if cap(wt.tmp) < k {
		wt.tmp = make([]float64, k)
	}
	tmp := wt.tmp[:k]
	for i := 0; i < count; i++ {
		center := in0 + (float64(first+i)+0.5)*scale
		lo := int(center - support + 0.5)
		lo = max(lo, 0)
		hi := min(int(center+support+0.5), inSize)
		n := min(hi-lo, k)
		total := 0.0
		for j := 0; j < n; j++ {
			x := (float64(lo+j) - center + 0.5) / fs
			v := 1 - math.Abs(x)
			if v < 0 {
				v = 0
			}
			tmp[j] = v
			total += v
		}
		// Trim zero taps at both ends.
		a, b := 0, n
		for a < b && tmp[a] == 0 {
			a++
		}
		for b > a && tmp[b-1] == 0 {
			b--
		}
		ws := wt.w[i*k : i*k+k]
		if a == b || total == 0 { // degenerate (cannot happen for valid geometry): nearest
			wt.start[i] = min(max(int(center), 0), inSize-1)
			wt.n[i] = 1
			ws[0] = 1
		} else {
			wt.start[i] = lo + a
			wt.n[i] = b - a
			for j := a; j < b; j++ {
				ws[j-a] = float32(tmp[j] / total)
			}
			if b-a != 1 || ws[0] != 1 {
				wt.single = false
			}
		}
		wt.lo = min(wt.lo, wt.start[i])
		wt.hi = max(wt.hi, wt.start[i]+wt.n[i])
	}
}

// consecutive reports a gather of consecutive source samples (a plain crop).
func (wt *weights) consecutive() bool {
	if !wt.single {
		return false
	}
	for i, st := range wt.start {
		if st != wt.lo+i {
			return false
		}
	}
	return true
}

// --- the resampler -----------------------------------------------------------------

// resample resizes the source box [bx0,bx1)×[by0,by1) of img to rw×rh and delivers the
// window of W×H outputs starting at (ox, oy) of that resized image (RGB, 0..255): row by
// row to n when n is not nil (each row is normalized while it is still in cache),
// otherwise into s.hwc (row-major H×W×3), which it returns. The window must lie inside
// the resized image.
func (s *scratch) resample(img image.Image, bx0, by0, bx1, by1 float64, rw, rh, ox, oy, W, H int, n *normalizer) []float32 {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	s.hw.compute(sw, bx0, bx1, rw, ox, W)
	s.vw.compute(sh, by0, by1, rh, oy, H)
	rowLen := 3 * W
	var out []float32
	if n == nil {
		out = grow(&s.hwc, H*rowLen)
	} else {
		out = grow(&s.hwc, rowLen) // one row, reused
	}
	outRow := func(y int) []float32 {
		if n == nil {
			return out[y*rowLen : (y+1)*rowLen]
		}
		return out
	}
	rd := s.reader(img)
	hw, vw := &s.hw, &s.vw
	xlo, xhi := hw.lo, hw.hi
	row := grow(&s.row, 3*(xhi-xlo))
	// A horizontal gather of consecutive columns needs no copy: read straight into o.
	direct := hw.consecutive()

	// Horizontal pass over the source rows the window needs. With a vertical gather
	// (no vertical resampling), rows go straight to their output rows.
	hpass := func(sy int, o []float32) {
		if direct {
			rd.readRow(sy, xlo, xhi, o)
			return
		}
		rd.readRow(sy, xlo, xhi, row)
		if hw.single {
			for i := 0; i < W; i++ {
				j := 3 * (hw.start[i] - xlo)
				o[3*i], o[3*i+1], o[3*i+2] = row[j], row[j+1], row[j+2]
			}
			return
		}
		k := hw.k
		for i := 0; i < W; i++ {
			ws := hw.w[i*k : i*k+hw.n[i]]
			src := row[3*(hw.start[i]-xlo):]
			q := o[3*i : 3*i+3]
			switch len(ws) { // the common tap counts, unrolled
			case 2:
				s := src[:6]
				w0, w1 := ws[0], ws[1]
				q[0] = w0*s[0] + w1*s[3]
				q[1] = w0*s[1] + w1*s[4]
				q[2] = w0*s[2] + w1*s[5]
			case 3:
				s := src[:9]
				w0, w1, w2 := ws[0], ws[1], ws[2]
				q[0] = w0*s[0] + w1*s[3] + w2*s[6]
				q[1] = w0*s[1] + w1*s[4] + w2*s[7]
				q[2] = w0*s[2] + w1*s[5] + w2*s[8]
			case 4:
				s := src[:12]
				w0, w1, w2, w3 := ws[0], ws[1], ws[2], ws[3]
				q[0] = w0*s[0] + w1*s[3] + w2*s[6] + w3*s[9]
				q[1] = w0*s[1] + w1*s[4] + w2*s[7] + w3*s[10]
				q[2] = w0*s[2] + w1*s[5] + w2*s[8] + w3*s[11]
			default:
				var r, g, bl float32
				for j, w := range ws {
					s := src[3*j : 3*j+3]
					r += w * s[0]
					g += w * s[1]
					bl += w * s[2]
				}
				q[0], q[1], q[2] = r, g, bl
			}
		}
	}
	if vw.single {
		for y := 0; y < H; y++ {
			o := outRow(y)
			hpass(vw.start[y], o)
			if n != nil {
				n.row(y, o)
			}
		}
		return out
	}
	ylo, yhi := vw.lo, vw.hi
	tmp := grow(&s.tmp, (yhi-ylo)*rowLen)
	for sy := ylo; sy < yhi; sy++ {
		hpass(sy, tmp[(sy-ylo)*rowLen:(sy-ylo+1)*rowLen])
	}
	k := vw.k
	for y := 0; y < H; y++ {
		o := outRow(y)
		ws := vw.w[y*k : y*k+vw.n[y]]
		base := vw.start[y] - ylo
		t := tmp[base*rowLen : (base+1)*rowLen]
		w0 := ws[0]
		for i := range o {
			o[i] = w0 * t[i]
		}
		for j := 1; j < len(ws); j++ {
			t := tmp[(base+j)*rowLen : (base+j+1)*rowLen]
			w := ws[j]
			for i := range o {
				o[i] += w * t[i]
			}
		}
		if n != nil {
			n.row(y, o)
		}
	}
	return out
}
