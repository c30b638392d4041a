package fsutil

import (
	"fmt"
	"os"
	"path/filepath"
)

// File is one file of a group written by WriteFiles.
type File struct {
	Path string
	Data []byte
	Perm os.FileMode
}

// WriteFiles writes files that belong together (a .npy matrix and its names file):
// every one into a synced temporary file first, and only when all of them are written
// are they renamed into place, in order, so the last one appears last. A failed write (a
// full disk) therefore replaces none of them: the old files stay, consistent.
func WriteFiles(files []File) (err error) {
	tmps := make([]string, 0, len(files))
	defer func() {
		if err != nil {
			for _, t := range tmps {
				if t != "" {
					os.Remove(t)
				}
			}
		}
	}()
	for _, f := range files {
		t, err := writeTemp(f)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		tmps = append(tmps, t)
	}
	for i, f := range files {
		if err := os.Rename(tmps[i], f.Path); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		tmps[i] = "" // renamed: nothing to remove
	}
	return nil
}

func writeTemp(f File) (string, error) {
	tf, err := os.CreateTemp(filepath.Dir(f.Path), "."+filepath.Base(f.Path)+".tmp-*")
	if err != nil {
		return "", err
	}
	name := tf.Name()
	_, err = tf.Write(f.Data)
	if err == nil {
		err = tf.Chmod(f.Perm)
	}
	if err == nil {
		err = tf.Sync()
	}
	if cerr := tf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}
