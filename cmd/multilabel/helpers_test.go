package main

import (
	"bytes"
	"context"
	"encoding/json"
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

// trainTestMAP runs `multilabel train ARGS --quiet --json`, fails the test unless it
// exits 0, and returns the test share's mAP from its JSON.
func trainTestMAP(t testing.TB, args ...string) float64 {
	t.Helper()
	code, o := runCLI(t, append(append([]string{"train"}, args...), "--quiet", "--json")...)
	if code != exitOK {
		t.Fatalf("train %s: exit %d %s", strings.Join(args, " "), code, o)
	}
	var s struct {
		Test struct {
			MAP float64 `json:"mAP"`
		} `json:"test"`
	}
	if err := json.Unmarshal([]byte(o), &s); err != nil {
		t.Fatalf("train %s: %v: %s", strings.Join(args, " "), err, o)
	}
	return s.Test.MAP
}
