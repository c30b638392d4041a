// Package depstest lists the dependencies of the package under test, so tests can keep
// heavy or training packages out of a package's import graph.
package depstest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Deps returns `go list -deps .` run in the test's directory (the package under test
// and everything it imports, transitively), with env (KEY=VALUE) added to the
// environment. It skips the test, saying why, when the go command is not available, and
// fails it when go list reports an error (a package that cannot build under env).
func Deps(t *testing.T, env ...string) []string {
	t.Helper()
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(goCmd); err != nil {
		if goCmd, err = exec.LookPath("go"); err != nil {
			t.Skip("the go command is not available: cannot list the package's dependencies")
		}
	}
	cmd := exec.Command(goCmd, "list", "-deps", ".")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("go list -deps . %v: %v\n%s", env, err, ee.Stderr)
	}
	if err != nil {
		t.Skipf("go list -deps . failed (%v): cannot list the package's dependencies", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps . printed nothing")
	}
	return deps
}
