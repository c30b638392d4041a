package main

import (
	"bytes"
	"io"
	"testing"
)

// capture points *stdout (a command's output variable, such as modelStdout) at a buffer
// while fn runs, and returns what was written there.
func capture(stdout *io.Writer, fn func()) string {
	var out bytes.Buffer
	old := *stdout
	*stdout = &out
	defer func() { *stdout = old }()
	fn()
	return out.String()
}

// runCLI runs the CLI in-process with args (the subcommand first) and returns its exit
// code and what the command printed on *stdout.
func runCLI(t testing.TB, stdout *io.Writer, args ...string) (code int, out string) {
	t.Helper()
	out = capture(stdout, func() { code = run(args) })
	return code, out
}
