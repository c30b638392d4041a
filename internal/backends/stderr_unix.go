//go:build unix

package backends

import (
	"bufio"
	"os"

	"golang.org/x/sys/unix"
)

// withORTNoticesDropped runs f with the process's standard error (file descriptor 2)
// passed through a filter that drops ONNX Runtime's "The requested API version [N] is
// not available" lines. compute-onnx asks the library for the newest C API it knows
// first and steps down; the library prints one such line, straight to file descriptor
// 2, for each version it lacks. They are no error (the next version is taken), yet
// they would break --quiet's promise of errors and the final line only. Every other
// line written meanwhile, by f or by other goroutines, goes through unchanged, once f
// has returned. Should the redirection fail, f runs unfiltered.
func withORTNoticesDropped(f func()) {
	saved, err := unix.Dup(2)
	if err != nil {
		f()
		return
	}
	defer unix.Close(saved)
	r, w, err := os.Pipe()
	if err != nil {
		f()
		return
	}
	if err := unix.Dup2(int(w.Fd()), 2); err != nil {
		r.Close()
		w.Close()
		f()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if line != "" && !isORTVersionNotice(line) {
				writeAll(saved, []byte(line))
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		_ = unix.Dup2(saved, 2) // fd 2 is the terminal (or file) again
		w.Close()               // the last writer of the pipe: the filter reads EOF
		<-done
		r.Close()
	}()
	f()
}

func writeAll(fd int, b []byte) {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err != nil || n <= 0 {
			return
		}
		b = b[n:]
	}
}
