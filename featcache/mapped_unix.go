//go:build unix

package featcache

import (
	"os"
	"syscall"
)

func mapFile(f *os.File, size int) ([]byte, func() error, error) {
	if size == 0 {
		return nil, func() error { return nil }, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}

// release drops the pages wholly inside data[lo:hi] from the resident set.
func release(data []byte, lo, hi int) {
	page := os.Getpagesize()
	lo = (lo + page - 1) / page * page
	hi = hi / page * page
	if hi > lo {
		syscall.Madvise(data[lo:hi], syscall.MADV_DONTNEED)
	}
}
