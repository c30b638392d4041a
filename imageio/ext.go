package imageio

import (
	"path/filepath"
	"slices"
	"strings"
)

// imageExts are the file name extensions taken for images where a name must be told
// from other files (a header row of a label file, the files of a directory).
var imageExts = map[string]bool{
	".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".bmp": true, ".webp": true,
	".tif": true, ".tiff": true,
}

// HasImageExt reports whether name ends in an image file extension (.jpg .jpeg .png .gif
// .bmp .webp .tif .tiff, any case).
func HasImageExt(name string) bool { return imageExts[strings.ToLower(filepath.Ext(name))] }

// ImageExts returns the image file extensions HasImageExt accepts, sorted.
func ImageExts() []string {
	out := make([]string, 0, len(imageExts))
	for e := range imageExts {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}
