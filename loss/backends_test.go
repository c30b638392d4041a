package loss

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/multilabel/multilabel/internal/backends"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// TestAgainstPyTorchONNX is TestAgainstPyTorch on the ONNX Runtime training backend
// (compute-onnx): every loss's value and gradient against PyTorch there too. Skipped
// without the library, failing instead with MULTILABEL_REQUIRE_ORT.
func TestAgainstPyTorchONNX(t *testing.T) {
	c, err := backends.Select(backends.ONNX, backends.Options{ORTLib: sharedtest.ORTLib(t)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "losses.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref refFile
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	n, k := len(ref.Logits), len(ref.Logits[0])
	x, y, m := flat(ref.Logits), flat(ref.Targets), flat(ref.Mask)
	for _, tc := range ref.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			pw := tc.Config.PosWeight
			if pw == nil {
				pw = make([]float32, k)
				for i := range pw {
					pw[i] = 1
				}
			}
			exec, err := NewExec(c.Backend, func(x, y, m, w *Node) (*Node, *Node) {
				l := Masked(tc.Config, x, y, m, w)
				return l, Gradient(l, x)[0]
			})
			if err != nil {
				t.Fatal(err)
			}
			defer exec.Finalize()
			out, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, n, k), tensors.FromFlatDataAndDimensions(y, n, k),
				tensors.FromFlatDataAndDimensions(m, n, k), tensors.FromFlatDataAndDimensions(pw, k))
			if err != nil {
				t.Fatal(err)
			}
			l, g := tensors.ToScalar[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
			if !close(float64(l), tc.Loss) {
				t.Errorf("loss = %.8g, PyTorch %.8g", l, tc.Loss)
			}
			for i := range g {
				if got, want := float64(g[i]), tc.Grad[i/k][i%k]; !close(got, want) || math.IsNaN(got) {
					t.Errorf("grad[%d][%d] = %.8g, PyTorch %.8g", i/k, i%k, got, want)
				}
			}
		})
	}
}
