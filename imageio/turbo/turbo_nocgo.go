//go:build !cgo

package turbo

import (
	"errors"
	"fmt"
	"image"

	"github.com/multilabel/multilabel/imageio"
)

// errNoCgo: without cgo the library cannot be called, so nothing is registered.
var errNoCgo = errors.New("built without cgo (CGO_ENABLED=0): libjpeg-turbo cannot be used")

func open() error { return errNoCgo }

// Decode always declines in a build without cgo.
func Decode(data []byte, minW, minH int, maxPixels int64, buf *imageio.JPEGBuffer) (image.Image, error) {
	return nil, fmt.Errorf("%w: %v", imageio.ErrFastDecline, errNoCgo)
}
