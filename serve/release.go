package serve

import "runtime/debug"

// ReleaseMemory hands freed memory back to the operating system at once: the Go heap
// (debug.FreeOSMemory) and, where the C library can (glibc's malloc_trim, reached with
// cgo), the free pages of the C heap, which is where ONNX Runtime's arena lived. Call it
// after a retired model is closed (Options.OnRetire): without it, the C allocator keeps
// the pages of the closed session's arena mapped, and the process's RSS carries them
// until the new session happens to reuse them.
func ReleaseMemory() {
	debug.FreeOSMemory()
	trimCHeap()
}
