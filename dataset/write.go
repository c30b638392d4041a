package dataset

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"

	"github.com/multilabel/multilabel/internal/fsutil"
)

// WriteCSV writes d to path in the one-hot layout: a header image,<label>,... then one
// row per sample with 1, 0 or -1 (unknown). Image references are written as they are in
// Sample.Image, so the file reads back with the same images directory. The file appears
// complete or not at all (written to a temporary file beside it, then renamed).
func WriteCSV(path string, d *Dataset) error {
	err := fsutil.WriteWith(path, 0o644, func(out io.Writer) error {
		bw := bufio.NewWriter(out)
		w := csv.NewWriter(bw)
		rec := make([]string, 1+len(d.Labels))
		rec[0] = "image"
		copy(rec[1:], d.Labels)
		if err := w.Write(rec); err != nil {
			return err
		}
		for i, s := range d.Samples {
			if len(s.Truth) != len(d.Labels) {
				return fmt.Errorf("sample %d (%s) has %d truth values for %d labels", i, s.Image, len(s.Truth), len(d.Labels))
			}
			rec[0] = s.Image
			for j, t := range s.Truth {
				switch t {
				case Positive:
					rec[1+j] = "1"
				case Negative:
					rec[1+j] = "0"
				default:
					rec[1+j] = "-1"
				}
			}
			if err := w.Write(rec); err != nil {
				return err
			}
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("dataset: write %s: %w", path, err)
	}
	return nil
}
