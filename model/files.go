package model

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/multilabel/multilabel/imageio"
)

// ImageFiles expands files and directories into image file paths: a file is kept as
// given (whatever its name, so a bad file is reported rather than ignored); a directory
// contributes its files with an image extension (imageio.HasImageExt: .jpg .jpeg .png
// .gif .bmp .webp .tif .tiff, any case), in lexical order, recursively when recursive is set, skipping hidden entries.
// A path that does not exist is an error.
func ImageFiles(args []string, recursive bool) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("image path: %w", err)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			hidden := p != a && strings.HasPrefix(d.Name(), ".")
			if d.IsDir() {
				if p != a && (hidden || !recursive) {
					return filepath.SkipDir
				}
				return nil
			}
			if !hidden && imageio.HasImageExt(p) {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("image directory %s: %w", a, err)
		}
	}
	return out, nil
}
