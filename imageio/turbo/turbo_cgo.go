//go:build cgo

package turbo

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// The few TurboJPEG 2.x entry points used, declared here as function pointer types so
// the build needs neither turbojpeg.h nor the library.
typedef void *mlt_handle;
typedef mlt_handle (*mlt_init_fn)(void);
typedef int (*mlt_header3_fn)(mlt_handle, const unsigned char *, unsigned long, int *, int *, int *, int *);
typedef int (*mlt_decompress2_fn)(mlt_handle, const unsigned char *, unsigned long, unsigned char *, int, int, int, int, int);
typedef char *(*mlt_errstr2_fn)(mlt_handle);
typedef int (*mlt_errcode_fn)(mlt_handle);
typedef int (*mlt_destroy_fn)(mlt_handle);

static mlt_init_fn mlt_init_p;
static mlt_header3_fn mlt_header3_p;
static mlt_decompress2_fn mlt_decompress2_p;
static mlt_errstr2_fn mlt_errstr2_p;
static mlt_errcode_fn mlt_errcode_p;
static mlt_destroy_fn mlt_destroy_p;

static const char *mlt_open(const char *name) {
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return dlerror();
	mlt_init_p = (mlt_init_fn)dlsym(lib, "tjInitDecompress");
	mlt_header3_p = (mlt_header3_fn)dlsym(lib, "tjDecompressHeader3");
	mlt_decompress2_p = (mlt_decompress2_fn)dlsym(lib, "tjDecompress2");
	mlt_errstr2_p = (mlt_errstr2_fn)dlsym(lib, "tjGetErrorStr2");
	mlt_errcode_p = (mlt_errcode_fn)dlsym(lib, "tjGetErrorCode");
	mlt_destroy_p = (mlt_destroy_fn)dlsym(lib, "tjDestroy");
	if (!mlt_init_p || !mlt_header3_p || !mlt_decompress2_p || !mlt_errstr2_p || !mlt_errcode_p || !mlt_destroy_p) {
		dlclose(lib);
		return "a TurboJPEG 2.x symbol is missing (tjInitDecompress, tjDecompressHeader3, tjDecompress2, tjGetErrorStr2, tjGetErrorCode, tjDestroy)";
	}
	return NULL;
}

static mlt_handle mlt_init(void) { return mlt_init_p(); }
static int mlt_header(mlt_handle h, const unsigned char *d, unsigned long n, int *w, int *ht, int *ss, int *cs) {
	return mlt_header3_p(h, d, n, w, ht, ss, cs);
}
static int mlt_decompress(mlt_handle h, const unsigned char *d, unsigned long n, unsigned char *dst, int w, int pitch, int ht, int pf, int flags) {
	return mlt_decompress2_p(h, d, n, dst, w, pitch, ht, pf, flags);
}
static const char *mlt_errstr(mlt_handle h) { return mlt_errstr2_p(h); }
static void mlt_destroy(mlt_handle h) { mlt_destroy_p(h); }
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"

	"github.com/multilabel/multilabel/imageio"
)

// TurboJPEG constants (turbojpeg.h, stable since 1.2 / 2.0).
const (
	tjcsCMYK = 3
	tjcsYCCK = 4
	tjcsGray = 2

	tjpfGray = 6
	tjpfRGBA = 7

	tjflagStopOnWarning = 8192
	tjflagLimitScans    = 32768 // refuse progressive files with more than 500 scans
)

func open() error {
	name := C.CString(LibName)
	defer C.free(unsafe.Pointer(name))
	if msg := C.mlt_open(name); msg != nil {
		return fmt.Errorf("dlopen %s: %s", LibName, C.GoString(msg))
	}
	return nil
}

// decompressor is a TurboJPEG handle with the header fields it fills (kept together so
// passing their addresses to C allocates nothing per call).
type decompressor struct {
	h             C.mlt_handle
	w, ht, ss, cs C.int
}

// handles is a bounded free list of decompressors (C memory, so not a sync.Pool, which
// would drop them without destroying them).
var handles = make(chan *decompressor, 64)

func getHandle() (*decompressor, error) {
	select {
	case d := <-handles:
		return d, nil
	default:
	}
	h := C.mlt_init()
	if h == nil {
		return nil, errors.New("turbojpeg: tjInitDecompress failed")
	}
	return &decompressor{h: h}, nil
}

func putHandle(d *decompressor) {
	select {
	case handles <- d:
	default:
		C.mlt_destroy(d.h)
	}
}

// Decode is imageio's FastJPEGFunc for libjpeg-turbo: it decodes a JPEG downscaled by
// ScaleDenom(w, h, minW, minH) into buf (nil: fresh memory), as an opaque *image.RGBA (or
// *image.Gray for grayscale files), before EXIF orientation. A header declaring more than
// maxPixels pixels (<= 0: imageio.DefaultMaxPixels) is refused with imageio.ErrTooLarge
// before anything is allocated; CMYK/YCCK files and any libjpeg warning or error give an
// error wrapping imageio.ErrFastDecline.
func Decode(data []byte, minW, minH int, maxPixels int64, buf *imageio.JPEGBuffer) (image.Image, error) {
	if err := load(); err != nil {
		return nil, fmt.Errorf("%w: %v", imageio.ErrFastDecline, err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", imageio.ErrFastDecline)
	}
	if maxPixels <= 0 {
		maxPixels = imageio.DefaultMaxPixels
	}
	dc, err := getHandle()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", imageio.ErrFastDecline, err)
	}
	ok := false
	defer func() {
		if ok {
			putHandle(dc)
		} else { // a handle that saw an error is not trusted again
			C.mlt_destroy(dc.h)
		}
	}()
	h := dc.h
	src := (*C.uchar)(unsafe.Pointer(&data[0]))
	n := C.ulong(len(data))
	if C.mlt_header(h, src, n, &dc.w, &dc.ht, &dc.ss, &dc.cs) != 0 {
		return nil, fmt.Errorf("%w: header: %s", imageio.ErrFastDecline, C.GoString(C.mlt_errstr(h)))
	}
	w, ht, cs := dc.w, dc.ht, dc.cs
	if w <= 0 || ht <= 0 {
		return nil, fmt.Errorf("%w: header declares %dx%d", imageio.ErrFastDecline, w, ht)
	}
	if px := int64(w) * int64(ht); px > maxPixels {
		return nil, fmt.Errorf("%w: jpeg header declares %dx%d = %d pixels, limit %d", imageio.ErrTooLarge, w, ht, px, maxPixels)
	}
	if cs == tjcsCMYK || cs == tjcsYCCK {
		return nil, fmt.Errorf("%w: CMYK/YCCK colour", imageio.ErrFastDecline)
	}
	d := ScaleDenom(int(w), int(ht), minW, minH)
	sw, sh := (int(w)+d-1)/d, (int(ht)+d-1)/d
	pf, bpp := tjpfRGBA, 4
	if cs == tjcsGray {
		pf, bpp = tjpfGray, 1
	}
	size := sw * sh * bpp
	if buf == nil {
		buf = new(imageio.JPEGBuffer)
	}
	if cap(buf.Pix) < size {
		buf.Pix = make([]byte, size)
	}
	pix := buf.Pix[:size]
	rc := C.mlt_decompress(h, src, n, (*C.uchar)(unsafe.Pointer(&pix[0])), C.int(sw), C.int(sw*bpp), C.int(sh),
		C.int(pf), tjflagStopOnWarning|tjflagLimitScans)
	if rc != 0 {
		return nil, fmt.Errorf("%w: %s", imageio.ErrFastDecline, C.GoString(C.mlt_errstr(h)))
	}
	ok = true
	r := image.Rect(0, 0, sw, sh)
	if bpp == 1 {
		buf.Gray = image.Gray{Pix: pix, Stride: sw, Rect: r}
		return &buf.Gray, nil
	}
	buf.RGBA = image.RGBA{Pix: pix, Stride: 4 * sw, Rect: r}
	return &buf.RGBA, nil
}
