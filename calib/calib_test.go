package calib

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/errkind"
)

// overconfident draws n rows of 2 labels whose true probability is σ(z/3) while the
// logits are z: temperature 3 is right, and raw scores are overconfident.
func overconfident(n int, seed uint64) ([][]float32, [][]int8) {
	rng := rand.New(rand.NewPCG(seed, 2))
	logits := make([][]float32, n)
	truth := make([][]int8, n)
	for i := range logits {
		logits[i] = make([]float32, 2)
		truth[i] = make([]int8, 2)
		for c := range logits[i] {
			z := rng.NormFloat64()*6 - float64(c)*2
			logits[i][c] = float32(z)
			if rng.Float64() < sigmoid(z/3) {
				truth[i][c] = 1
			}
		}
	}
	truth[0][1] = -1
	return logits, truth
}

func TestTemperatureAndECE(t *testing.T) {
	t.Parallel()
	logits, truth := overconfident(6000, 1)
	temps, err := FitTemperatures(logits, truth)
	if err != nil {
		t.Fatal(err)
	}
	for c, tc := range temps {
		if math.Abs(tc-3) > 0.3 {
			t.Errorf("label %d: temperature %.3f, want about 3", c, tc)
		}
	}
	// The fitted T minimises the NLL: nudging it either way does not lower it.
	for c, tc := range temps {
		at := nll(logits, truth, c, tc)
		if nll(logits, truth, c, tc*1.02) < at-1e-9 || nll(logits, truth, c, tc/1.02) < at-1e-9 {
			t.Errorf("label %d: T=%.4f is not a minimum of the NLL", c, tc)
		}
	}
	before := ECE(Apply(logits, []float64{1, 1}), truth, 15)
	after := ECE(Apply(logits, temps), truth, 15)
	for c := range before {
		if !(after[c] < before[c]) {
			t.Errorf("label %d: ECE %.4f after calibration, %.4f before", c, after[c], before[c])
		}
	}
	// ECE by hand: two bins, probabilities 0.2 (truth 0, 1) and 0.9 (truth 1).
	e := ECE([][]float32{{0.2}, {0.2}, {0.9}}, [][]int8{{0}, {1}, {1}}, 2)
	if want := 2.0/3*math.Abs(0.5-0.2) + 1.0/3*math.Abs(1-0.9); math.Abs(e[0]-want) > 1e-6 {
		t.Errorf("ECE = %v, want %v", e[0], want)
	}
	if tt, _ := FitTemperatures([][]float32{{1}, {2}}, [][]int8{{1}, {1}}); tt[0] != 1 {
		t.Errorf("label without negatives: T = %v, want 1", tt[0])
	}
	if _, err := FitTemperatures([][]float32{{float32(math.NaN())}}, [][]int8{{1}}); !errkind.IsBadInput(err) {
		t.Errorf("NaN logit: %v", err)
	}
}

func TestParseDecision(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Decision{
		"f1": {Kind: F1}, "precision:0.9": {Kind: Precision, Target: 0.9}, "recall:1": {Kind: Recall, Target: 1},
		"topk:3": {Kind: TopK, K: 3},
	} {
		got, err := ParseDecision(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseDecision(%q) = %+v (%q), %v; want %+v", in, got, got.String(), err, want)
		}
	}
	for _, bad := range []string{"precision:1.5", "precision:0", "recall:x", "topk:0", "topk:1.5", "f1:2", "best", "precision"} {
		if _, err := ParseDecision(bad); !errkind.IsBadInput(err) {
			t.Errorf("ParseDecision(%q) = %v, want a bad-input error", bad, err)
		}
	}
}

func TestThresholds(t *testing.T) {
	t.Parallel()
	// Label 0: scores 0.9 (1), 0.8 (1), 0.7 (0), 0.6 (1), 0.5 (0), 0.4 (1);
	// label 1: never positive; label 2: positives all below a negative.
	s := []float32{0.9, 0.8, 0.7, 0.6, 0.5, 0.4}
	y0 := []int8{1, 1, 0, 1, 0, 1}
	scores := make([][]float32, len(s))
	truth := make([][]int8, len(s))
	for i := range s {
		scores[i] = []float32{s[i], s[i] / 2, s[i]}
		truth[i] = []int8{y0[i], 0, 0}
	}
	truth[0][2] = 0
	truth[5][2] = 1 // its one positive has the lowest score: precision 1/6 at best
	th, notes, err := Thresholds(Decision{Kind: Precision, Target: 0.75}, scores, truth)
	if err != nil {
		t.Fatal(err)
	}
	// Precision at 0.6: 3/4 = 0.75 (reached, lowest such threshold); at 0.4: 4/6.
	if th[0] != float64(float32(0.6)) {
		t.Errorf("precision:0.75 threshold %v, want 0.6", th[0])
	}
	if len(notes) != 2 {
		t.Errorf("notes %q, want fallbacks for labels 1 (no positive) and 2 (precision unreachable)", notes)
	}
	th, _, err = Thresholds(Decision{Kind: Recall, Target: 0.7}, scores, truth)
	if err != nil {
		t.Fatal(err)
	}
	// Recall at 0.6 is 3/4 >= 0.7 (first reached, the highest such threshold).
	if th[0] != float64(float32(0.6)) {
		t.Errorf("recall:0.7 threshold %v, want 0.6", th[0])
	}
	for c := range th {
		if th[c] <= 0 || th[c] >= 1 {
			t.Errorf("label %d: threshold %v (never 0 or 1)", c, th[c])
		}
	}
	if got := Decide(Decision{Kind: TopK, K: 2}, []float32{0.9, 0.2, 0.95, 0.8}, []float64{0.5, 0.5, 0.5, 0.5}); len(got) != 2 || got[0] != 0 || got[1] != 2 {
		t.Errorf("topk:2 decision %v, want [0 2]", got)
	}
	if got := Decide(Decision{Kind: F1}, []float32{0.9, 0.2}, []float64{0.5, 0.1}); len(got) != 2 {
		t.Errorf("f1 decision %v, want both labels", got)
	}
}

// TestFitPlattMatchesSklearn checks FitPlatt against scikit-learn's LogisticRegression
// fitted on the same logits (testdata/gen_platt.py): slopes and intercepts agree.
func TestFitPlattMatchesSklearn(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "platt.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Ridge  float64     `json:"ridge"`
		Logits [][]float32 `json:"logits"`
		Truth  [][]int8    `json:"truth"`
		A, B   []float64
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if ref.Ridge != PlattRidge {
		t.Fatalf("testdata ridge %v, PlattRidge %v: regenerate testdata/platt.json", ref.Ridge, PlattRidge)
	}
	a, b, err := FitPlatt(ref.Logits, ref.Truth)
	if err != nil {
		t.Fatal(err)
	}
	for c := range ref.A {
		if math.Abs(a[c]-ref.A[c]) > 1e-4*math.Max(1, math.Abs(ref.A[c])) || math.Abs(b[c]-ref.B[c]) > 1e-4*math.Max(1, math.Abs(ref.B[c])) {
			t.Errorf("label %d: a, b = %.6f, %.6f; sklearn %.6f, %.6f", c, a[c], b[c], ref.A[c], ref.B[c])
		}
	}
	// Platt never loses to temperature scaling on the data it was fitted on (it holds
	// the temperature's map as the special case b = 0).
	temps, err := FitTemperatures(ref.Logits, ref.Truth)
	if err != nil {
		t.Fatal(err)
	}
	inv := make([]float64, len(temps))
	for i, v := range temps {
		inv[i] = 1 / v
	}
	pp, pt := ApplyAffine(ref.Logits, a, b), ApplyAffine(ref.Logits, inv, nil)
	if lp, lt := logLoss(pp, ref.Truth), logLoss(pt, ref.Truth); lp > lt+1e-9 {
		t.Errorf("log-loss after Platt %.6f > after temperature %.6f", lp, lt)
	}
	// UndoAffine inverts ApplyAffine (where float32 probabilities are not saturated).
	back := UndoAffine(pp, a, b)
	raw0 := ApplyAffine(ref.Logits, nil, nil)
	for i := range back {
		for c := range back[i] {
			if q := pp[i][c]; q > 1e-3 && q < 1-1e-3 && math.Abs(float64(back[i][c]-raw0[i][c])) > 1e-4 {
				t.Fatalf("UndoAffine row %d label %d: %v, want %v", i, c, back[i][c], raw0[i][c])
			}
		}
	}
}

func TestFitPlattDegenerate(t *testing.T) {
	// Label 0 has no known positive (keeps the identity); label 1 is ranked backwards on
	// its fitting data (falls back to a temperature: a positive slope, no shift).
	logits := [][]float32{{-1, 2}, {0, 1}, {1, -1}, {2, -2}, {0.5, 0.5}}
	truth := [][]int8{{0, 0}, {0, 0}, {-1, 1}, {0, 1}, {0, 1}}
	a, b, err := FitPlatt(logits, truth)
	if err != nil {
		t.Fatal(err)
	}
	if a[0] != 1 || b[0] != 0 {
		t.Errorf("label without positives: a, b = %v, %v, want 1, 0", a[0], b[0])
	}
	if !(a[1] > 0) || b[1] != 0 {
		t.Errorf("reversed label: a, b = %v, %v, want a > 0 (a temperature), b = 0", a[1], b[1])
	}
	if _, _, err := FitPlatt([][]float32{{float32(math.NaN())}}, [][]int8{{1}}); err == nil {
		t.Error("NaN logit: no error")
	}
}

func logLoss(p [][]float32, y [][]int8) float64 {
	s := 0.0
	for i := range p {
		for c, v := range p[i] {
			switch y[i][c] {
			case 1:
				s -= math.Log(float64(v))
			case 0:
				s -= math.Log(1 - float64(v))
			}
		}
	}
	return s
}
