// Package errkind holds the kinds of error that multilabel's packages share, so that a
// caller (the command line, a service, a library user) tells the user's mistakes from the
// program's failures with errors.Is, never by reading message text.
//
// A package that finds a problem with its input wraps ErrBadInput where it finds it:
//
//	return fmt.Errorf("%s line %d: %w", file, line, errkind.BadInput("unknown label %q", l))
//
// or declares its own sentinel that matches ErrBadInput (see Sentinel), so both
// errors.Is(err, backbone.ErrNotONNX) and errors.Is(err, errkind.ErrBadInput) hold.
package errkind

import (
	"errors"
	"fmt"
)

// ErrBadInput is matched by every error caused by the user's input: a malformed label
// file, an unreadable or unsupported model file, an invalid option value. The command
// line maps it to exit code 2.
var ErrBadInput = errors.New("bad input")

// BadInput returns an error with the formatted message that matches ErrBadInput. The
// message is the formatted text alone (no "bad input:" prefix), so messages read once.
func BadInput(format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), err: fmt.Errorf(format, args...), kind: ErrBadInput}
}

// WrapBadInput marks err as caused by the user's input without changing its message.
// It returns nil for a nil err.
func WrapBadInput(err error) error {
	if err == nil {
		return nil
	}
	return &kindError{msg: err.Error(), err: err, kind: ErrBadInput}
}

// Sentinel returns a new sentinel error with message msg that also matches kind with
// errors.Is; packages use it for their own named conditions:
//
//	var ErrNotONNX = errkind.Sentinel("not an ONNX model", errkind.ErrBadInput)
func Sentinel(msg string, kind error) error {
	return &kindError{msg: msg, kind: kind}
}

// IsBadInput reports whether err, or any error it wraps, is caused by the user's input.
func IsBadInput(err error) bool { return errors.Is(err, ErrBadInput) }

type kindError struct {
	msg  string
	err  error // wrapped cause, may be nil
	kind error
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Unwrap() []error {
	if e.err == nil {
		return []error{e.kind}
	}
	return []error{e.err, e.kind}
}

// ErrUnavailable marks an infrastructure failure that retrying did not cure (object
// storage unreachable or failing mid-transfer): exit code 1, and never mistaken for bad
// input that a reader may skip and count (an unreadable image, a truncated archive).
var ErrUnavailable = errors.New("unavailable")

// WrapUnavailable marks err as ErrUnavailable (nil stays nil).
func WrapUnavailable(err error) error {
	if err == nil {
		return nil
	}
	return &kindError{msg: err.Error(), err: err, kind: ErrUnavailable}
}

// IsUnavailable reports whether err is marked ErrUnavailable.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }
