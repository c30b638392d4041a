package main

import (
	"context"
	"errors"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/finetune"
	"github.com/multilabel/multilabel/internal/demo"
	"github.com/multilabel/multilabel/model"
)

// exitCode is the one map from a command's error to the process exit code:
//
//	0  success (nil)
//	1  runtime failure, interruption included (context.Canceled)
//	2  bad usage of the command line, or bad input: anything matching
//	   errkind.ErrBadInput (a malformed label file, an unreadable model, an invalid
//	   option value)
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case isUsage(err):
		return exitUsage
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return exitFailure
	case isBadInput(err):
		return exitUsage
	}
	return exitFailure
}

// isBadInput reports whether err is caused by the user's input. errkind.IsBadInput is
// the rule; the other checks are the library's older kinds, kept until every package
// wraps errkind.ErrBadInput.
func isBadInput(err error) bool {
	return errkind.IsBadInput(err) || model.IsBadInput(err) || dataset.IsBadInput(err) ||
		errors.Is(err, finetune.ErrBadCut) || errors.Is(err, demo.ErrBadConfig)
}

// badInput marks err as caused by the user's input (exit code 2); nil stays nil.
func badInput(err error) error { return errkind.WrapBadInput(err) }
