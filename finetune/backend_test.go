package finetune

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/internal/backends"
)

func TestBackendSelection(t *testing.T) {
	if FindPJRTPlugin() != "" && os.Getenv("PJRT_PLUGIN_LIBRARY_PATH") == "" {
		t.Skip("a real PJRT plugin is installed on this machine; selection is exercised by it")
	}
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", dir)
	// No ONNX Runtime either: auto must come down to pure Go.
	t.Setenv("ONNXRUNTIME_LIB", filepath.Join(dir, "missing", "libonnxruntime.so.1"))
	t.Setenv("XDG_CACHE_HOME", dir)

	b, desc, err := Backend("auto")
	if err != nil || b == nil || !strings.HasPrefix(desc, "go") {
		t.Fatalf("auto without a plugin: %v %q %v", b, desc, err)
	}
	if _, _, err := Backend("xla"); err == nil || !strings.Contains(err.Error(), "no XLA PJRT plugin") {
		t.Fatalf("xla without a plugin: want a clear error, got %v", err)
	}
	if _, _, err := Backend("tpu"); err == nil {
		t.Fatal("unknown backend accepted")
	}

	// A file with a plugin's name that is not a shared library: xla fails clearly,
	// auto falls back to pure Go.
	fake := filepath.Join(dir, "pjrt_c_api_cpu_plugin.so")
	if err := os.WriteFile(fake, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	if FindPJRTPlugin() != fake {
		t.Fatalf("plugin search missed %s", fake)
	}
	if backends.XLABuilt() {
		if _, _, err := Backend("xla"); err == nil || !strings.Contains(err.Error(), fake) {
			t.Fatalf("xla with a broken plugin: want an error naming it, got %v", err)
		}
	}
	b, desc, err = Backend("auto")
	if err != nil || b == nil || !strings.HasPrefix(desc, "go") {
		t.Fatalf("auto with a broken plugin must fall back to pure Go: %q %v", desc, err)
	}
}
