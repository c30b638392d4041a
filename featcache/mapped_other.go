//go:build !unix

package featcache

import (
	"io"
	"os"
)

// Without mmap the file is read into memory (correct, not larger than memory).
func mapFile(f *os.File, size int) ([]byte, func() error, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}

func release(data []byte, lo, hi int) {}
