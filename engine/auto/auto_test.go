package auto_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/engine/enginetest"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

func TestParseKind(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "auto", "auto": "auto", "ort": "ort", "onnxruntime": "ort", "go": "go", "gomlx": "go"} {
		got, err := auto.ParseKind(in)
		if err != nil || got != want {
			t.Errorf("ParseKind(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := auto.ParseKind("cuda"); err == nil {
		t.Error("ParseKind(cuda): want an error")
	}
	if _, err := auto.Open(enginetest.TinyModel(), auto.Options{Kind: "tpu"}); err == nil {
		t.Error("Open with kind tpu: want an error")
	}
}

func TestGo(t *testing.T) {
	t.Parallel()
	e, err := auto.Open(enginetest.TinyModel(), auto.Options{Kind: auto.KindGo})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if !strings.Contains(e.Name(), "gomlx") {
		t.Errorf("Name = %q, want the gomlx engine", e.Name())
	}
}

// TestFallback: without an ONNX Runtime library, auto picks pure Go and says so once.
func TestFallback(t *testing.T) {
	t.Setenv("ONNXRUNTIME_LIB", t.TempDir()+"/missing/libonnxruntime.so")
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	for range 2 {
		e, err := auto.Open(enginetest.TinyModel(), auto.Options{Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(e.Name(), "gomlx") {
			t.Errorf("Name = %q, want the gomlx fallback", e.Name())
		}
		e.Close()
	}
	if n := strings.Count(log.String(), "\n"); n != 1 || !strings.Contains(log.String(), "install-onnxruntime.sh") || !strings.Contains(log.String(), "ONNXRUNTIME_LIB") {
		t.Errorf("want one log line naming install-onnxruntime.sh and ONNXRUNTIME_LIB, got %d lines:\n%s", n, log.String())
	}
	// Asking for ORT explicitly is an error, not a silent fallback.
	if e, err := auto.Open(enginetest.TinyModel(), auto.Options{Kind: auto.KindORT}); err == nil {
		e.Close()
		t.Error("Kind ort without the library: want an error")
	}
}

func TestAutoPicksORT(t *testing.T) {
	t.Parallel()
	lib := sharedtest.ORTLib(t)
	e, err := auto.Open(enginetest.TinyModel(), auto.Options{ORTLib: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if !strings.Contains(strings.ToLower(e.Name()), "ort") && !strings.Contains(strings.ToLower(e.Name()), "onnx") {
		t.Errorf("Name = %q, want the ONNX Runtime engine", e.Name())
	}
}
