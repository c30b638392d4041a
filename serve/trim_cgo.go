//go:build linux && cgo

package serve

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>

typedef int (*ml_trim_fn)(unsigned long);

// ml_trim calls malloc_trim(0) when the C library has it (glibc; musl has not), found
// at run time so that the build does not depend on which C library links it.
static int ml_trim(void) {
	ml_trim_fn f = (ml_trim_fn)dlsym(RTLD_DEFAULT, "malloc_trim");
	if (f == 0) {
		return -1;
	}
	return f(0);
}
*/
import "C"

// cgoTrim: this build reaches the C library (see trimCHeap).
const cgoTrim = true

// trimCHeap returns the C heap's free pages to the system (glibc's malloc_trim(0)):
// 1 when some were returned, 0 when none were, -1 where the C library has no such call.
func trimCHeap() int { return int(C.ml_trim()) }
