package dataset

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
)

// WriteCSV writes d to path in the one-hot layout: a header image,<label>,... then one
// row per sample with 1, 0 or -1 (unknown). Image references are written as they are in
// Sample.Image, so the file reads back with the same images directory. The file appears
// complete or not at all (written to a temporary file beside it, then renamed).
func WriteCSV(path string, d *Dataset) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("dataset: write %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriter(tmp)
	w := csv.NewWriter(bw)
	rec := make([]string, 1+len(d.Labels))
	rec[0] = "image"
	copy(rec[1:], d.Labels)
	if err := w.Write(rec); err != nil {
		return fmt.Errorf("dataset: write %s: %w", path, err)
	}
	for i, s := range d.Samples {
		if len(s.Truth) != len(d.Labels) {
			return fmt.Errorf("dataset: write %s: sample %d (%s) has %d truth values for %d labels", path, i, s.Image, len(s.Truth), len(d.Labels))
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
			return fmt.Errorf("dataset: write %s: %w", path, err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("dataset: write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dataset: write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("dataset: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("dataset: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("dataset: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		ok = true
		return fmt.Errorf("dataset: write %s: %w", path, err)
	}
	ok = true
	return nil
}
