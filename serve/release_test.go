package serve

import (
	"os"
	"strings"
	"testing"
)

// TestReleaseMemory: ReleaseMemory runs, and where the process links glibc through cgo
// (the Linux builds of the CLI) the C heap is really trimmed: malloc_trim is found
// (0 or 1, never -1).
func TestReleaseMemory(t *testing.T) {
	ReleaseMemory()
	got := trimCHeap()
	maps, _ := os.ReadFile("/proc/self/maps")
	if cgoTrim && strings.Contains(string(maps), "libc.so.6") && got < 0 {
		t.Errorf("trimCHeap = %d in a glibc process: malloc_trim not reached", got)
	}
	if !cgoTrim && got != -1 {
		t.Errorf("trimCHeap = %d without cgo, want -1", got)
	}
}
