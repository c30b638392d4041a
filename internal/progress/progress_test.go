package progress

import (
	"os"
	"strings"
	"testing"
)

func TestNotATerminal(t *testing.T) {
	t.Parallel()
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Errorf("%s is a terminal", os.DevNull)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) {
		t.Error("a pipe is a terminal")
	}
}

// TestFinishOnce: off a terminal, a short job prints one line, at the end, with no
// rate from its first microseconds, and Finish does not repeat it.
func TestFinishOnce(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	b := New(&out, "train", 10, "steps")
	for range 10 {
		b.Add(1)
	}
	b.Finish()
	b.Finish()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "train 10/10 steps (100%) ") || !strings.Contains(lines[0], "done in") {
		t.Errorf("output %q", out.String())
	}
}

func TestFormatRate(t *testing.T) {
	t.Parallel()
	for r, want := range map[float64]string{0.523: "0.52", 12.34: "12.3", 451.5: "452", 121966.1: "122k"} {
		if got := formatRate(r); got != want {
			t.Errorf("formatRate(%v) = %s, want %s", r, got, want)
		}
	}
}
