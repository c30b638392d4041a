package errkind

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestKinds(t *testing.T) {
	t.Parallel()
	notONNX := Sentinel("not an ONNX model", ErrBadInput)
	cases := []struct {
		name    string
		err     error
		bad     bool
		message string
	}{
		{"nil", nil, false, ""},
		{"plain", errors.New("disk full"), false, "disk full"},
		{"badinput", BadInput("line %d: unknown label %q", 3, "sea"), true, `line 3: unknown label "sea"`},
		{"wrapped", fmt.Errorf("labels.csv: %w", BadInput("empty")), true, "labels.csv: empty"},
		{"sentinel", fmt.Errorf("m.onnx: %w", notONNX), true, "m.onnx: not an ONNX model"},
		{"wrapbad", WrapBadInput(fs.ErrNotExist), true, fs.ErrNotExist.Error()},
		{"wrapnil", WrapBadInput(nil), false, ""},
	}
	for _, c := range cases {
		if got := IsBadInput(c.err); got != c.bad {
			t.Errorf("%s: IsBadInput = %v, want %v", c.name, got, c.bad)
		}
		if c.err != nil && c.err.Error() != c.message {
			t.Errorf("%s: message %q, want %q", c.name, c.err.Error(), c.message)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", notONNX), notONNX) {
		t.Error("a sentinel does not match itself through wrapping")
	}
	if !errors.Is(WrapBadInput(fs.ErrNotExist), fs.ErrNotExist) {
		t.Error("WrapBadInput hides its cause")
	}
}
