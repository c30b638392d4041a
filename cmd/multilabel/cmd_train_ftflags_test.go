package main

import (
	"strings"
	"testing"
)

// TestTrainFineTuneFlagErrors: --cutout without --augment, or out of range, and a bad
// --ft-ema are usage errors naming the flag, before anything is loaded.
func TestTrainFineTuneFlagErrors(t *testing.T) {
	base := []string{"train", "--data", "no-such.csv", "--backbone", "no-such.onnx", "--json", "--unfreeze", "all"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--cutout", "0.25"}, "--cutout needs --augment"},
		{[]string{"--augment", "--cutout", "2"}, "--cutout"},
		{[]string{"--ft-ema", "1"}, "EMA decay"},
	} {
		code, _, stderr := runCLIErr(t, append(base, c.args...)...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q (want usage error with %q)", c.args, code, stderr, c.want)
		}
	}
}
