package finetune

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// Backend names accepted by Config.Backend and --backend.
const (
	BackendAuto = "auto" // pure Go (XLA when linked in and its plugin is found)
	BackendGo   = "go"   // GoMLX's pure-Go backend
	BackendXLA  = "xla"  // XLA through a PJRT plugin (not linked in this build)
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

// Backend returns the GoMLX backend for a --backend value and its description. This
// build links only the pure-Go backend: "xla" is an error that says whether a plugin
// was found and how to get an XLA build (see the package documentation); "auto" is
// the pure-Go backend.
func Backend(name string) (compute.Backend, string, error) {
	kind, err := ParseBackend(name)
	if err != nil {
		return nil, "", err
	}
	if kind == BackendXLA {
		if p := FindPJRTPlugin(); p != "" {
			return nil, "", fmt.Errorf("finetune: XLA plugin found (%s) but this build does not link GoMLX's XLA backend; use --backend go, or build with it (see 'go doc github.com/multilabel/multilabel/finetune')", p)
		}
		return nil, "", fmt.Errorf("finetune: no XLA PJRT plugin found (set PJRT_PLUGIN_LIBRARY_PATH; see 'go doc github.com/multilabel/multilabel/finetune'); use --backend go")
	}
	return gobackend.GetBackend(), "go (pure Go)", nil
}
