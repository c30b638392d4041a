package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeTokenNeverPrinted: the token from $MULTILABEL_TOKEN (once printed as the
// --token default by `serve --help` and by usage errors) shows only as "set".
func TestServeTokenNeverPrinted(t *testing.T) {
	const secret = "tok-3f9a1c-very-secret"
	t.Setenv(tokenEnv, secret)
	for _, args := range [][]string{{"serve", "--help"}, {"serve", "--no-such-flag"}, {"serve"}} {
		_, stdout, stderr := runCLIErr(t, args...)
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("%v printed the token", args)
		}
		if len(args) > 1 && args[1] == "--help" && !strings.Contains(stdout+stderr, "MULTILABEL_TOKEN is set") {
			t.Errorf("%v does not say the token is set:\n%s", args, stdout+stderr)
		}
	}
}

func TestServeResolveToken(t *testing.T) {
	t.Setenv(tokenEnv, "from-env")
	dir := t.TempDir()
	file := filepath.Join(dir, "tok")
	if err := os.WriteFile(file, []byte("from-file\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := serveLimitFlags{maxDecodedMB: 256, decodeBudgetMB: 1024, bodyTimeout: 1, refuseDelay: defaultRefuseDelay, refuseHeld: 64}
	f := base
	if tok, err := f.resolveToken(""); err != nil || tok != "from-env" {
		t.Errorf("env: %q %v", tok, err)
	}
	f.tokenFile = file
	if tok, err := f.resolveToken(""); err != nil || tok != "from-file" {
		t.Errorf("file: %q %v", tok, err)
	}
	if _, err := f.resolveToken("flag"); exitCode(err) != exitUsage {
		t.Errorf("--token with --token-file: %v", err)
	}
	f.tokenFile = filepath.Join(dir, "missing")
	if _, err := f.resolveToken(""); exitCode(err) != exitUsage {
		t.Errorf("missing token file: %v", err)
	}
	for _, bad := range []serveLimitFlags{
		{maxDecodedMB: 256, decodeBudgetMB: 1024, bodyTimeout: 1, refuseDelay: -1, refuseHeld: 64},
		{maxDecodedMB: 256, decodeBudgetMB: 1024, bodyTimeout: 1, refuseDelay: maxRefuseDelay + 1, refuseHeld: 64},
		{maxDecodedMB: 256, decodeBudgetMB: 1024, bodyTimeout: 1, refuseDelay: 0, refuseHeld: 0},
	} {
		if _, err := bad.resolveToken(""); exitCode(err) != exitUsage {
			t.Errorf("--refuse-delay %v --refuse-delay-max %d: %v, want a usage error", bad.refuseDelay, bad.refuseHeld, err)
		}
	}
	f = base
	f.refuseDelay = 0 // off
	if _, err := f.resolveToken(""); err != nil {
		t.Errorf("--refuse-delay 0: %v", err)
	}
	t.Setenv(tokenEnv, "")
	f = base
	f.metricsAuth = true
	if _, err := f.resolveToken(""); exitCode(err) != exitUsage {
		t.Errorf("--metrics-auth without a token: %v", err)
	}
}
