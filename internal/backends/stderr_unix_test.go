//go:build unix

package backends

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestORTNoticesDropped: while the training backend opens, ONNX Runtime's notices
// about API versions it lacks (the text seen from ORT 1.24.1) are dropped from file
// descriptor 2; other lines, from C-level writes and from os.Stderr, pass unchanged and
// in order.
func TestORTNoticesDropped(t *testing.T) {
	// Not parallel: it points the process's fd 2 at a file for the test's duration.
	file := filepath.Join(t.TempDir(), "stderr")
	fh, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	saved, err := unix.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup2(int(fh.Fd()), 2); err != nil {
		t.Fatal(err)
	}
	withORTNoticesDropped(func() {
		for _, s := range []string{
			"The requested API version [26] is not available, only API versions [1, 24] are supported in this build. Current ORT Version is: 1.24.1\n",
			"a real error line\n",
			"The requested API version [25] is not available, only API versions [1, 24] are supported in this build. Current ORT Version is: 1.24.1\n",
		} {
			if _, err := unix.Write(2, []byte(s)); err != nil {
				t.Error(err)
			}
		}
		os.Stderr.WriteString("from Go, no newline")
	})
	os.Stderr.WriteString("\nafter\n")
	if err := unix.Dup2(saved, 2); err != nil {
		t.Fatal(err)
	}
	unix.Close(saved)
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a real error line\nfrom Go, no newline\nafter\n"; string(got) != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	for line, want := range map[string]bool{
		"The requested API version [26] is not available, only API versions [1, 24] are supported in this build. Current ORT Version is: 1.24.1\n": true,
		"The requested API version is not available\n":                       false,
		"error: The requested API version [26] is not available, only ...\n": false,
	} {
		if isORTVersionNotice(line) != want {
			t.Errorf("isORTVersionNotice(%q) = %v", line, !want)
		}
	}
}
