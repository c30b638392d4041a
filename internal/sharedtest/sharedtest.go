// Package sharedtest locates the project's shared real data (../shared beside the
// repository root) and the ONNX Runtime library for tests, skipping with a clear message
// when they are absent (a user's checkout) and failing when CI requires them.
package sharedtest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root returns the repository root (the directory holding go.mod).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Dir returns the absolute path of ../shared/<rel>, or skips the test when it is absent.
func Dir(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Root(), "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("shared data %s missing in CI: %v", p, err)
		}
		t.Skipf("skipping: shared data %s not present (it sits beside the repository in CI)", p)
	}
	return p
}

// ORTLib returns the path of the ONNX Runtime shared library, looking at ONNXRUNTIME_LIB
// and then the project's install place. It skips the test when none is found, unless
// MULTILABEL_REQUIRE_ORT is set (CI), where it fails.
func ORTLib(t testing.TB) string {
	t.Helper()
	if p := FindORTLib(); p != "" {
		return p
	}
	if os.Getenv("MULTILABEL_REQUIRE_ORT") != "" {
		t.Fatalf("ONNX Runtime library not found (MULTILABEL_REQUIRE_ORT is set); run scripts/install-onnxruntime.sh")
	}
	t.Skip("skipping: ONNX Runtime library not found; run scripts/install-onnxruntime.sh or set ONNXRUNTIME_LIB")
	return ""
}

// FindORTLib returns the ONNX Runtime library path or "".
func FindORTLib() string {
	if p := os.Getenv("ONNXRUNTIME_LIB"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	p := filepath.Join(cache, "multilabel", "onnxruntime", "1.24.1", "libonnxruntime.so.1")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}
