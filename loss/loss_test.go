package loss

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

type refFile struct {
	Logits  [][]float32 `json:"logits"`
	Targets [][]float32 `json:"targets"`
	Mask    [][]float32 `json:"mask"`
	Cases   []struct {
		Name   string      `json:"name"`
		Config Config      `json:"config"`
		Loss   float64     `json:"loss"`
		Grad   [][]float64 `json:"grad"`
	} `json:"cases"`
}

func flat(m [][]float32) []float32 {
	var out []float32
	for _, r := range m {
		out = append(out, r...)
	}
	return out
}

func close(got, want float64) bool {
	return math.Abs(got-want) <= 1e-5+1e-5*math.Abs(want)
}

// lossAndGrad evaluates Masked and its gradient w.r.t. the logits with the pure-Go backend.
func lossAndGrad(t *testing.T, cfg Config, logits, targets, mask []float32, n, c int) (float32, []float32) {
	t.Helper()
	pw := cfg.PosWeight
	if pw == nil {
		pw = make([]float32, c)
		for i := range pw {
			pw[i] = 1
		}
	}
	exec, err := NewExec(gobackend.GetBackend(), func(x, y, m, w *Node) (*Node, *Node) {
		l := Masked(cfg, x, y, m, w)
		return l, Gradient(l, x)[0]
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	out, err := exec.Exec(
		tensors.FromFlatDataAndDimensions(logits, n, c),
		tensors.FromFlatDataAndDimensions(targets, n, c),
		tensors.FromFlatDataAndDimensions(mask, n, c),
		tensors.FromFlatDataAndDimensions(pw, c))
	if err != nil {
		t.Fatalf("%s: %v", cfg.Kind, err)
	}
	return tensors.ToScalar[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
}

func TestAgainstPyTorch(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "losses.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref refFile
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	n, c := len(ref.Logits), len(ref.Logits[0])
	x, y, m := flat(ref.Logits), flat(ref.Targets), flat(ref.Mask)
	for _, tc := range ref.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			l, g := lossAndGrad(t, tc.Config, x, y, m, n, c)
			if !close(float64(l), tc.Loss) {
				t.Errorf("loss = %.8g, PyTorch %.8g", l, tc.Loss)
			}
			for i := 0; i < n; i++ {
				for j := 0; j < c; j++ {
					got, want := float64(g[i*c+j]), tc.Grad[i][j]
					if !close(got, want) || math.IsNaN(got) {
						t.Errorf("grad[%d][%d] = %.8g, PyTorch %.8g (logit %v, target %v, mask %v)",
							i, j, got, want, ref.Logits[i][j], ref.Targets[i][j], ref.Mask[i][j])
					}
				}
			}
		})
	}
}

func TestNoKnownEntries(t *testing.T) {
	t.Parallel()
	for _, kind := range Kinds {
		cfg := Defaults(kind)
		if kind == Weighted {
			cfg.PosWeight = []float32{2, 3}
		}
		if kind == DB {
			cfg.ClassCounts, cfg.ClassKnown = []float32{1, 5}, []float32{10, 10}
		}
		l, g := lossAndGrad(t, cfg, []float32{1, -50, 50, 0}, []float32{1, 0, 1, 0}, make([]float32, 4), 2, 2)
		if l != 0 {
			t.Errorf("%s: loss with nothing known = %v, want 0", kind, l)
		}
		for _, v := range g {
			if v != 0 {
				t.Errorf("%s: gradient with nothing known = %v, want zeros", kind, g)
				break
			}
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	bad := []Config{
		{}, {Kind: "hinge"}, {Kind: Focal, Gamma: -1}, {Kind: Focal, Alpha: 2},
		{Kind: ASL, Clip: 1}, {Kind: ASL, GammaNeg: math.NaN()}, {Kind: Weighted, PosWeight: []float32{1}},
		{Kind: Weighted, PosWeight: []float32{1, 0}},
		{Kind: DB, DBLambda: 0}, {Kind: DB, DBLambda: 2, ClassCounts: []float32{1, 2}},
		{Kind: DB, DBLambda: 2, ClassCounts: []float32{3, 2}, ClassKnown: []float32{2, 2}},
		{Kind: DB, DBLambda: 2, Gamma: -1}, {Kind: DB, DBLambda: 2, DBBeta: math.Inf(1)},
	}
	for _, c := range bad {
		if err := c.Validate(2); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
	}
	for _, k := range Kinds {
		if err := Defaults(k).Validate(3); err != nil {
			t.Errorf("Defaults(%s): %v", k, err)
		}
	}
}

func TestPosWeights(t *testing.T) {
	t.Parallel()
	labels := [][]int8{{1, 0, -1}, {0, 0, -1}, {0, 0, 1}, {0, 1, -1}, {0, 0, 0}}
	w := PosWeights(labels, 3, 3)
	want := []float32{3, 3, 1} // 4/1 clipped to 3; 4/1 -> 3; 1/1 -> 1
	for i := range want {
		if w[i] != want[i] {
			t.Fatalf("PosWeights = %v, want %v", w, want)
		}
	}
	if w := PosWeights([][]int8{{0}}, 1, 0); w[0] != 10 {
		t.Errorf("no positives: weight %v, want the default clip 10", w[0])
	}
}

func TestTargetsAndMask(t *testing.T) {
	t.Parallel()
	y, m := TargetsAndMask([][]int8{{1, 0, -1}, {0}}, 3)
	wy, wm := []float32{1, 0, 0, 0, 0, 0}, []float32{1, 1, 0, 1, 0, 0}
	for i := range wy {
		if y[i] != wy[i] || m[i] != wm[i] {
			t.Fatalf("TargetsAndMask = %v, %v; want %v, %v", y, m, wy, wm)
		}
	}
}
