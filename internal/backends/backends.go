// Package backends chooses the GoMLX compute backend that trains: ONNX Runtime
// (github.com/gomlx/compute-onnx on the project's pinned libonnxruntime), XLA (a PJRT
// plugin) or GoMLX's pure-Go backend. Fine-tuning (package finetune) and head training
// (package train) both select through [Select], so `--backend auto|onnx|xla|go` means
// the same everywhere.
//
// Nothing is ever downloaded: compute-onnx's auto-installer is switched off before the
// first backend is created and the library path is always passed explicitly (the same
// lookup as the inference engine, engine/ort.FindLibrary: the flag, $ONNXRUNTIME_LIB,
// then the project's install place). XLA plugins are opened by absolute path, which
// bypasses go-xla's installer.
//
// Backends are created once per process and kind and shared; the choice and its reason
// are logged once (log/slog) per distinct choice.
package backends

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	onnxbackend "github.com/gomlx/compute-onnx"
	"github.com/gomlx/compute/gobackend"

	"github.com/multilabel/multilabel/engine/ort"
)

// Backend names accepted by --backend.
const (
	Auto = "auto" // ONNX Runtime when its library is found, else XLA when a plugin is found, else pure Go
	ONNX = "onnx" // ONNX Runtime through compute-onnx (the project's pinned library)
	XLA  = "xla"  // XLA through a PJRT plugin (needs a cgo build and an installed plugin)
	Go   = "go"   // GoMLX's pure-Go backend
)

// ErrUnknown reports a --backend value that is not one of auto, onnx, xla, go.
var ErrUnknown = errors.New("unknown backend")

// Parse validates a --backend value and returns its canonical name.
func Parse(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", Auto:
		return Auto, nil
	case ONNX, "ort", "onnxruntime":
		return ONNX, nil
	case Go, "gomlx", "pure-go":
		return Go, nil
	case XLA:
		return XLA, nil
	}
	return "", fmt.Errorf("backend %q: %w: want auto, onnx, xla or go", s, ErrUnknown)
}

// Choice is a selected backend.
type Choice struct {
	Backend compute.Backend
	// Kind is the canonical name of the backend chosen: ONNX, XLA or Go.
	Kind string
	// Desc describes it for records and logs, e.g. "onnx (/path/libonnxruntime.so.1)".
	Desc string
	// Reason says why it was chosen (for "auto": what was found or missing).
	Reason string
}

// Options configure Select.
type Options struct {
	// ORTLib is the ONNX Runtime library ("" searches $ONNXRUNTIME_LIB and the
	// project's install place, as engine/ort does).
	ORTLib string
	// Logger receives the one line saying which backend was chosen and why
	// (nil: slog.Default()).
	Logger *slog.Logger
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
// (see xla.go).
var newXLA func(plugin string) (compute.Backend, error)

var (
	mu     sync.Mutex
	cache  = map[string]compute.Backend{} // key: kind + "\x00" + library
	logged = map[string]bool{}
)

func init() {
	// Before any compute-onnx backend exists: it must never download ONNX Runtime.
	onnxbackend.EnableAutoInstall(false)
}

// ONNXConfig is the compute-onnx configuration string for library lib: the CPU
// execution provider, one intra-op thread per logical CPU, and the explicit library
// path (so compute-onnx neither searches nor installs).
func ONNXConfig(lib string) (string, error) {
	if lib == "" || strings.ContainsAny(lib, ",=") {
		return "", fmt.Errorf("ONNX Runtime library path %q: empty or containing ',' or '=' (which compute-onnx's configuration cannot carry)", lib)
	}
	abs, err := filepath.Abs(lib)
	if err != nil {
		return "", fmt.Errorf("ONNX Runtime library %s: %w", lib, err)
	}
	// ONNX Runtime's default is one thread per physical core, which on SMT machines
	// leaves half the logical CPUs idle; the inference engine uses all of them too.
	// mem_pattern=false: ONNX Runtime's memory-pattern planner off. Measured on
	// BenchmarkStepWhole32/onnx (SqueezeNet 1.1 whole network, b32, 2 cores, runs
	// interleaved): 15.9, 15.8 images/s with it, 18.5, 18.2, 19.1 without; the training
	// graphs are large and their many big intermediates fit its plan badly. Parallel
	// execution (8.5), no CPU arena (12.5) and optimisation levels 1 and 2 (17.0, 18.0)
	// were slower, so they stay at their defaults.
	return fmt.Sprintf("cpu,intra_op_num_threads=%d,mem_pattern=false,%s", runtime.NumCPU(), abs), nil
}

func openONNX(lib string) (compute.Backend, error) {
	mu.Lock()
	defer mu.Unlock()
	key := ONNX + "\x00" + lib
	if b, ok := cache[key]; ok {
		return b, nil
	}
	cfg, err := ONNXConfig(lib)
	if err != nil {
		return nil, err
	}
	var b compute.Backend
	withORTNoticesDropped(func() { b, err = onnxbackend.New(cfg) })
	if err != nil {
		return nil, fmt.Errorf("ONNX Runtime training backend on %s: %w", lib, err)
	}
	cache[key] = b
	return b, nil
}

// isORTVersionNotice reports whether line is ONNX Runtime's notice that a C API version
// it was asked for is not in this build ("The requested API version [26] is not
// available, only API versions [1, 24] are supported in this build. ...").
func isORTVersionNotice(line string) bool {
	return ortNotice.MatchString(line)
}

var ortNotice = regexp.MustCompile(`^The requested API version \[[0-9]+\] is not available, only API versions \[[0-9, ]+\] are supported in this build\.`)

func openXLA(plugin string) (compute.Backend, error) {
	mu.Lock()
	defer mu.Unlock()
	key := XLA + "\x00" + plugin
	if b, ok := cache[key]; ok {
		return b, nil
	}
	b, err := newXLA(plugin)
	if err != nil {
		return nil, err
	}
	cache[key] = b
	return b, nil
}

// Select returns the backend for a --backend value:
//   - "onnx": ONNX Runtime on the library found (an error wrapping ort.ErrNoLibrary when none);
//   - "xla": XLA on the plugin found (an error when none, or in a build without cgo);
//   - "go": the pure-Go backend;
//   - "auto": ONNX Runtime when its library is found and loads, else XLA when a plugin
//     is found and opens, else pure Go.
//
// The choice and its reason are logged once per process and choice.
func Select(name string, opt Options) (Choice, error) {
	kind, err := Parse(name)
	if err != nil {
		return Choice{}, err
	}
	c, err := pick(kind, opt.ORTLib)
	if err != nil {
		return Choice{}, err
	}
	mu.Lock()
	first := !logged[c.Desc+"\x00"+c.Reason]
	logged[c.Desc+"\x00"+c.Reason] = true
	mu.Unlock()
	if first {
		log := opt.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Debug("training backend", "requested", kind, "backend", c.Desc, "reason", c.Reason)
	}
	return c, nil
}

func pick(kind, ortLib string) (Choice, error) {
	var why []string
	if kind == ONNX || kind == Auto {
		lib, err := ort.FindLibrary(ortLib)
		if err == nil {
			b, err2 := openONNX(lib)
			if err2 == nil {
				reason := "requested"
				if kind == Auto {
					reason = "ONNX Runtime library found"
				}
				return Choice{Backend: b, Kind: ONNX, Desc: "onnx (" + lib + ")", Reason: reason}, nil
			}
			err = err2
		}
		if kind == ONNX {
			return Choice{}, fmt.Errorf("backend onnx: %w", err)
		}
		why = append(why, "no usable ONNX Runtime: "+err.Error())
	}
	if kind == XLA || kind == Auto {
		p := FindPJRTPlugin()
		switch {
		case p != "" && newXLA != nil:
			b, err := openXLA(p)
			if err == nil {
				reason := "requested"
				if kind == Auto {
					reason = strings.Join(append(why, "XLA PJRT plugin found"), "; ")
				}
				return Choice{Backend: b, Kind: XLA, Desc: "xla (" + p + ")", Reason: reason}, nil
			}
			if kind == XLA {
				return Choice{}, fmt.Errorf("backend xla: XLA backend on %s: %w", p, err)
			}
			why = append(why, fmt.Sprintf("XLA plugin %s unusable: %v", p, err))
		case kind == XLA && p == "":
			return Choice{}, errors.New("backend xla: no XLA PJRT plugin found (set PJRT_PLUGIN_LIBRARY_PATH); use --backend onnx or go")
		case kind == XLA:
			return Choice{}, fmt.Errorf("backend xla: XLA plugin found (%s) but this binary was built without cgo, which the XLA backend needs; use --backend onnx or go", p)
		case p == "":
			why = append(why, "no XLA PJRT plugin")
		default:
			why = append(why, "XLA plugin "+p+" found but this build has no cgo")
		}
	}
	reason := "requested"
	if kind == Auto {
		reason = strings.Join(append(why, "pure Go (slow) as the fallback"), "; ")
	}
	return Choice{Backend: gobackend.GetBackend(), Kind: Go, Desc: "go (pure Go)", Reason: reason}, nil
}

// XLABuilt reports whether this binary can open XLA plugins (a cgo build).
func XLABuilt() bool { return newXLA != nil }
