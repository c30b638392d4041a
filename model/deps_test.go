package model_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestPredictOnlyDeps checks that a program that only loads a bundle and predicts links
// neither go-xla nor any training code: GoMLX may appear only as the pure-Go inference
// engine behind engine/auto.
func TestPredictOnlyDeps(t *testing.T) {
	t.Parallel()
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(goCmd); err != nil {
		if goCmd, err = exec.LookPath("go"); err != nil {
			t.Skip("the go command is not available: cannot list the dependencies of ./model")
		}
	}
	out, err := exec.Command(goCmd, "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list -deps . failed (%v): cannot check the dependencies of ./model", err)
	}
	const mod = "github.com/multilabel/multilabel/"
	forbidden := map[string]bool{}
	for _, p := range []string{"train", "finetune", "head", "loss", "pipeline"} {
		forbidden[mod+p] = true
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps printed nothing")
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/gomlx/go-xla") {
			t.Errorf("model links %s", d)
		}
		if forbidden[d] || strings.HasPrefix(d, mod+"train/") || strings.HasPrefix(d, mod+"finetune/") || strings.HasPrefix(d, mod+"pipeline/") {
			t.Errorf("model links the training package %s", d)
		}
	}
}
