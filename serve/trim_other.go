//go:build !linux || !cgo

package serve

// trimCHeap has nothing to do without cgo on Linux: -1, as when the C library has no
// malloc_trim.
func trimCHeap() int { return -1 }

// cgoTrim: this build does not reach the C library.
const cgoTrim = false
