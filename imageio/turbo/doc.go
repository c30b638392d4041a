// Package turbo registers libjpeg-turbo (the TurboJPEG API of libturbojpeg.so.0, Debian
// package libturbojpeg0) as imageio's fast JPEG decoder. Import it for its side effect:
//
//	import _ "github.com/multilabel/multilabel/imageio/turbo"
//
// One build, chosen at run time: the library is opened with dlopen when the package is
// initialised, through function pointers declared here, so neither the TurboJPEG headers
// nor the library are needed to build. When the library is absent, the environment
// variable MULTILABEL_NO_TURBOJPEG is set (to anything but "" or "0"), or the binary is
// built without cgo (CGO_ENABLED=0, see turbo_nocgo.go), nothing is registered and imageio
// keeps using the pure-Go decoder; one slog debug line says why.
//
// The decoder downscales in the DCT domain by 1/2, 1/4 or 1/8, the strongest factor that
// keeps the image at least as large as the resize needs, and converts to RGB (SIMD) into
// a reusable buffer that imageio's resampler reads directly. Files with CMYK/YCCK colour,
// or any libjpeg warning (a truncated file, say), are left to the pure-Go decoder, which
// gives the canonical result or error.
package turbo

import (
	"log/slog"
	"os"
	"sync"

	"github.com/multilabel/multilabel/imageio"
)

// EnvDisable names the environment variable that, when set to a value other than "" and
// "0", keeps this package from registering libjpeg-turbo.
const EnvDisable = "MULTILABEL_NO_TURBOJPEG"

// LibName is the shared library opened at run time.
const LibName = "libturbojpeg.so.0"

// Name is the decoder name registered with imageio.
const Name = "libjpeg-turbo"

var (
	loadOnce sync.Once
	loadErr  error
)

func init() {
	if v := os.Getenv(EnvDisable); v != "" && v != "0" {
		slog.Debug("imageio/turbo: libjpeg-turbo disabled by environment, using the pure-Go JPEG decoder", "env", EnvDisable)
		return
	}
	if err := load(); err != nil {
		slog.Debug("imageio/turbo: libjpeg-turbo not available, using the pure-Go JPEG decoder (install Debian libturbojpeg0 for the fast path)", "reason", err.Error())
		return
	}
	imageio.RegisterFastJPEG(Name, Decode)
}

// load opens the library once.
func load() error {
	loadOnce.Do(func() { loadErr = open() })
	return loadErr
}

// Available reports whether libjpeg-turbo was loaded (it may still be unregistered
// through EnvDisable or imageio.RegisterFastJPEG).
func Available() bool { return load() == nil }

// LoadError says why the library could not be loaded (nil when it was).
func LoadError() error { return load() }

// Register (re)installs libjpeg-turbo as imageio's fast JPEG decoder, whatever
// EnvDisable says; it returns the load error when the library is unavailable.
func Register() error {
	if err := load(); err != nil {
		return err
	}
	imageio.RegisterFastJPEG(Name, Decode)
	return nil
}

// ScaleDenom returns the DCT scaling denominator (1, 2, 4 or 8; the image is decoded at
// ceil(w/d)×ceil(h/d)) for a w×h image that must stay at least minW×minH; minW or
// minH <= 0 asks for the full size.
func ScaleDenom(w, h, minW, minH int) int {
	if minW <= 0 || minH <= 0 {
		return 1
	}
	for _, d := range []int{8, 4, 2} {
		if (w+d-1)/d >= minW && (h+d-1)/d >= minH {
			return d
		}
	}
	return 1
}
