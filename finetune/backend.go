package finetune

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// Backend names accepted by Config.Backend and --backend.
const (
	BackendAuto = "auto" // XLA when its plugin is found (cgo builds), else pure Go
	BackendGo   = "go"   // GoMLX's pure-Go backend
	BackendXLA  = "xla"  // XLA through a PJRT plugin (needs a cgo build and an installed plugin)
)

// ParseBackend validates a --backend value.
func ParseBackend(s string) (string, error) {
	switch s {
	case "", BackendAuto:
		return BackendAuto, nil
	case BackendGo, "gomlx", "pure-go":
		return BackendGo, nil
	case BackendXLA:
		return BackendXLA, nil
	}
	return "", fmt.Errorf("finetune: unknown backend %q: want auto, go or xla", s)
}

// FindPJRTPlugin returns the path of an installed XLA PJRT plugin (CUDA preferred over
// CPU), looking in $PJRT_PLUGIN_LIBRARY_PATH, ~/.local/lib/go-xla, ~/.local/lib/gomlx/pjrt,
// /usr/local/lib/go-xla and /usr/local/lib/gomlx/pjrt; "" when none is found.
func FindPJRTPlugin() string {
	var dirs []string
	if p := os.Getenv("PJRT_PLUGIN_LIBRARY_PATH"); p != "" {
		dirs = append(dirs, filepath.SplitList(p)...)
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, ".local/lib/go-xla"), filepath.Join(h, ".local/lib/gomlx/pjrt"))
	}
	dirs = append(dirs, "/usr/local/lib/go-xla", "/usr/local/lib/gomlx/pjrt")
	for _, name := range []string{"pjrt_c_api_cuda_plugin.so", "pjrt_c_api_gpu_plugin.so", "pjrt_c_api_cpu_plugin.so"} {
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
	}
	return ""
}

// newXLA opens GoMLX's XLA backend on a PJRT plugin file; nil in builds without cgo
// (see backend_xla.go).
var newXLA func(plugin string) (compute.Backend, error)

// Backend returns the GoMLX backend for a --backend value and its description.
// "xla" requires a PJRT plugin (FindPJRTPlugin) and a cgo build; "auto" uses XLA when
// both are there and the pure-Go backend otherwise. Plugins are never downloaded: the
// plugin path is always absolute, which bypasses go-xla's auto-installer.
func Backend(name string) (compute.Backend, string, error) {
	kind, err := ParseBackend(name)
	if err != nil {
		return nil, "", err
	}
	if kind == BackendXLA || kind == BackendAuto {
		p := FindPJRTPlugin()
		switch {
		case p != "" && newXLA != nil:
			b, err := newXLA(p)
			if err == nil {
				return b, "xla (" + p + ")", nil
			}
			if kind == BackendXLA {
				return nil, "", fmt.Errorf("finetune: XLA backend on %s: %w", p, err)
			}
			slog.Warn("XLA plugin found but unusable; training with the pure-Go backend", "plugin", p, "err", err)
		case kind == BackendXLA && p == "":
			return nil, "", fmt.Errorf("finetune: no XLA PJRT plugin found (set PJRT_PLUGIN_LIBRARY_PATH; see 'go doc github.com/multilabel/multilabel/finetune'); use --backend go")
		case kind == BackendXLA:
			return nil, "", fmt.Errorf("finetune: XLA plugin found (%s) but this binary was built without cgo, which the XLA backend needs; use --backend go", p)
		}
	}
	return gobackend.GetBackend(), "go (pure Go)", nil
}
