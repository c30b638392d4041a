package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runCLI runs the CLI in-process with args (the subcommand first) and returns its exit
// code and what it printed on stdout; stderr goes to the test log.
func runCLI(t testing.TB, args ...string) (code int, stdout string) {
	t.Helper()
	code, stdout, _ = runCLIErr(t, args...)
	return code, stdout
}

// runCLIErr is runCLI that also returns stderr.
func runCLIErr(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLICtx(t, context.Background(), args...)
}

func runCLICtx(t testing.TB, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, args, strings.NewReader(""), &out, &errb)
	if errb.Len() > 0 {
		t.Logf("multilabel %s: stderr:\n%s", strings.Join(args, " "), errb.String())
	}
	return code, out.String(), errb.String()
}
