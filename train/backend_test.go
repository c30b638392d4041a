package train

import (
	"context"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/internal/benchdata"
)

// TestBackendRecorded: the training backend is selected through internal/backends and
// recorded in the result; an unknown one is refused.
func TestBackendRecorded(t *testing.T) {
	x, y := benchdata.Heads()
	x, y = x[:64*512], y[:64]
	cfg := DefaultConfig()
	cfg.Epochs, cfg.Backend = 1, "go"
	res, err := Fit(context.Background(), cfg, x, y, nil, nil, 512, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Backend, "go") || res.BackendReason == "" {
		t.Fatalf("backend record %q (%q)", res.Backend, res.BackendReason)
	}
	cfg.Backend = "tpu"
	if _, err := Fit(context.Background(), cfg, x, y, nil, nil, 512, Callbacks{}); err == nil || !strings.Contains(err.Error(), "tpu") {
		t.Fatalf("unknown backend: %v", err)
	}
}
