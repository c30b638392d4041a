package metric

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

type refCase struct {
	Name       string          `json:"name"`
	Labels     []string        `json:"labels"`
	Scores     [][]float64     `json:"scores"`
	Truth      [][]int8        `json:"truth"`
	Threshold  float64         `json:"threshold"`
	Thresholds []float64       `json:"thresholds"`
	TopK       int             `json:"topk"`
	Expected   json.RawMessage `json:"expected"`
}

type refFile struct {
	Cases      []refCase `json:"cases"`
	WeightedAP []struct {
		Scores  []float64 `json:"scores"`
		Truth   []int8    `json:"truth"`
		Weights []float64 `json:"weights"`
		AP      float64   `json:"ap"`
	} `json:"weighted_ap"`
}

func loadRef(t *testing.T) refFile {
	t.Helper()
	data, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref refFile
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) == 0 {
		t.Fatal("no reference cases")
	}
	return ref
}

func toF32(m [][]float64) [][]float32 {
	out := make([][]float32, len(m))
	for i, r := range m {
		out[i] = make([]float32, len(r))
		for j, v := range r {
			out[i][j] = float32(v)
		}
	}
	return out
}

// TestReference checks every figure of the scikit-learn reference (testdata/
// gen_reference.py) to 1e-9, through the JSON form so the key names are checked too.
func TestReference(t *testing.T) {
	t.Parallel()
	defer func(v int) { directMaxPos = v }(directMaxPos)
	for _, direct := range []int{8, 0} { // both ranking paths of the example-based metrics
		directMaxPos = direct
		for _, c := range loadRef(t).Cases {
			t.Run(fmt.Sprintf("%s/direct%d", c.Name, direct), func(t *testing.T) { testRefCase(t, c) })
		}
	}
}

func testRefCase(t *testing.T, c refCase) {
	{
		{
			res, err := Evaluate(toF32(c.Scores), c.Truth, c.Labels, Options{Threshold: c.Threshold, Thresholds: c.Thresholds, TopK: c.TopK})
			if err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			var got, want map[string]any
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			if err := json.Unmarshal(c.Expected, &want); err != nil {
				t.Fatal(err)
			}
			n := compare(t, "", want, got)
			if n < 25 {
				t.Errorf("only %d figures compared", n)
			}
		}
	}
}

func compare(t *testing.T, path string, want, got any) int {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %v, want an object", path, got)
			return 0
		}
		n := 0
		for k, v := range w {
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s.%s: missing", path, k)
				continue
			}
			n += compare(t, path+"."+k, v, gv)
		}
		return n
	case nil:
		if got != nil {
			t.Errorf("%s: got %v, want null", path, got)
		}
		return 1
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > 1e-9 {
			t.Errorf("%s: got %v, want %v", path, got, w)
		}
		return 1
	default:
		t.Errorf("%s: unexpected reference type %T", path, want)
		return 0
	}
}

func TestWeightedAPReference(t *testing.T) {
	t.Parallel()
	for k, c := range loadRef(t).WeightedAP {
		s := make([]float32, len(c.Scores))
		for i, v := range c.Scores {
			s[i] = float32(v)
		}
		o := sortOne(s, c.Truth)
		w := make([]int32, len(c.Weights))
		for i, v := range c.Weights {
			w[i] = int32(v)
		}
		got, ok := o.apWeighted(w)
		if !ok || math.Abs(got-c.AP) > 1e-9 {
			t.Errorf("case %d: weighted AP %v (ok %v), want %v", k, got, ok, c.AP)
		}
	}
}

func TestAveragePrecisionTies(t *testing.T) {
	t.Parallel()
	// All scores equal: AP is the prevalence, whatever the order.
	ap, ok := AveragePrecision([]float32{0.5, 0.5, 0.5, 0.5}, []int8{1, 0, 0, 1})
	if !ok || ap != 0.5 {
		t.Errorf("AP = %v, %v; want 0.5", ap, ok)
	}
	ap, ok = AveragePrecision([]float32{0.9, 0.1}, []int8{-1, 0})
	if ok || ap != 0 {
		t.Errorf("no positives: AP = %v, %v; want 0, false", ap, ok)
	}
	// Unknown entries are left out: the top-scored unknown does not hurt.
	ap, _ = AveragePrecision([]float32{1, 0.8, 0.2}, []int8{-1, 1, 0})
	if ap != 1 {
		t.Errorf("AP with unknown = %v, want 1", ap)
	}
	// -0 and +0 tie.
	ap, _ = AveragePrecision([]float32{float32(math.Copysign(0, -1)), 0}, []int8{1, 0})
	if ap != 0.5 {
		t.Errorf("AP(-0,+0) = %v, want 0.5", ap)
	}
}

func TestMeanAPNoPositives(t *testing.T) {
	t.Parallel()
	m, per, ok := MeanAP([][]float32{{0.2, 0.9}, {0.7, 0.1}}, [][]int8{{1, 0}, {0, 0}})
	if m != 0.5 || per[0] != 0.5 || !ok[0] || ok[1] {
		t.Errorf("MeanAP = %v %v %v", m, per, ok)
	}
	r, err := Evaluate([][]float32{{0.2}}, [][]int8{{0}}, []string{"x"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(r)
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	if got["mAP"] != nil || got["per_class_ap"].(map[string]any)["x"] != nil {
		t.Errorf("want null mAP and AP, got %s", data)
	}
}

func TestEvaluateBadInput(t *testing.T) {
	t.Parallel()
	labels := []string{"a", "b"}
	for _, c := range []struct {
		s [][]float32
		t [][]int8
		o Options
	}{
		{[][]float32{{0.1, float32(math.NaN())}}, [][]int8{{1, 0}}, Options{}},
		{[][]float32{{0.1, 1.7}}, [][]int8{{1, 0}}, Options{}},
		{[][]float32{{0.1, 0.2}}, [][]int8{{1, 2}}, Options{}},
		{[][]float32{{0.1}}, [][]int8{{1, 0}}, Options{}},
		{[][]float32{{0.1, 0.2}}, [][]int8{{1, 0}, {0, 0}}, Options{}},
		{[][]float32{{0.1, 0.2}}, [][]int8{{1, 0}}, Options{Threshold: 1.5}},
		{[][]float32{{0.1, 0.2}}, [][]int8{{1, 0}}, Options{Thresholds: []float64{0.5}}},
	} {
		if _, err := Evaluate(c.s, c.t, labels, c.o); err == nil {
			t.Errorf("Evaluate(%v, %v, %+v): no error", c.s, c.t, c.o)
		}
	}
}

func randomData(n, nl int, prevalence float64, seed uint64) ([][]float32, [][]int8) {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := make([][]float32, n)
	tr := make([][]int8, n)
	for i := range s {
		s[i] = make([]float32, nl)
		tr[i] = make([]int8, nl)
		for j := range s[i] {
			if rng.Float64() < prevalence {
				tr[i][j] = 1
			}
			s[i][j] = float32(0.4*float64(tr[i][j]) + 0.6*rng.Float64())
		}
	}
	return s, tr
}

func TestTuneThresholds(t *testing.T) {
	t.Parallel()
	s, tr := randomData(400, 4, 0.2, 7)
	th, err := TuneThresholds(s, tr, TuneOptions{MinPositives: 5})
	if err != nil {
		t.Fatal(err)
	}
	// The tuned threshold beats (or equals) every grid threshold on its class's F1.
	for j := range th {
		f1At := func(x float64) float64 {
			var c Counts
			for i := range s {
				add(&c, tr[i][j], float64(s[i][j]) >= x)
			}
			return c.F1()
		}
		best := f1At(th[j])
		for g := 0.0; g <= 1; g += 0.01 {
			if f := f1At(g); f > best+1e-12 {
				t.Errorf("class %d: F1 %v at %v beats tuned %v at %v", j, f, g, best, th[j])
			}
		}
	}
	// A class below MinPositives falls back to the global threshold.
	for i := range tr {
		tr[i][3] = 0
	}
	tr[0][3] = 1
	th, err = TuneThresholds(s, tr, TuneOptions{MinPositives: 5})
	if err != nil {
		t.Fatal(err)
	}
	g, _, _ := TuneGlobal(s, tr)
	if th[3] != g {
		t.Errorf("rare class threshold %v, want global %v", th[3], g)
	}
	r, err := Evaluate(s, tr, []string{"a", "b", "c", "d"}, Options{Thresholds: th})
	if err != nil {
		t.Fatal(err)
	}
	r5, _ := Evaluate(s, tr, []string{"a", "b", "c", "d"}, Options{})
	if r.MacroF1 < r5.MacroF1 {
		t.Errorf("tuned macro-F1 %v < macro-F1 at 0.5 %v", r.MacroF1, r5.MacroF1)
	}
}

func TestBootstrapMAP(t *testing.T) {
	t.Parallel()
	s, tr := randomData(300, 5, 0.2, 3)
	m, _, _ := MeanAP(s, tr)
	lo, hi, err := BootstrapMAP(s, tr, 200, 42, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if !(lo < m && m < hi && hi-lo < 0.3) {
		t.Errorf("CI [%v, %v] around mAP %v", lo, hi, m)
	}
	lo2, hi2, _ := BootstrapMAP(s, tr, 200, 42, 0.95)
	if lo != lo2 || hi != hi2 {
		t.Errorf("not deterministic: [%v,%v] vs [%v,%v]", lo, hi, lo2, hi2)
	}
	r, err := Evaluate(s, tr, []string{"a", "b", "c", "d", "e"}, Options{Bootstrap: 200, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	if r.MAPCI == nil || r.MAPCI.Lo != lo || r.MAPCI.Hi != hi {
		t.Errorf("Evaluate CI %+v, want [%v,%v]", r.MAPCI, lo, hi)
	}
}

func TestF1Curve(t *testing.T) {
	t.Parallel()
	s, tr := randomData(200, 3, 0.3, 5)
	labels := []string{"a", "b", "c"}
	grid := []float64{0.2, 0.5, 0.8}
	micro, macro, err := F1Curve(s, tr, grid)
	if err != nil {
		t.Fatal(err)
	}
	for g, x := range grid {
		r, _ := Evaluate(s, tr, labels, Options{Threshold: x})
		if math.Abs(r.MicroF1-micro[g]) > 1e-12 || math.Abs(r.MacroF1-macro[g]) > 1e-12 {
			t.Errorf("threshold %v: curve %v/%v, Evaluate %v/%v", x, micro[g], macro[g], r.MicroF1, r.MacroF1)
		}
	}
}

func TestPRCurve(t *testing.T) {
	t.Parallel()
	pts := PRCurve([]float32{0.9, 0.8, 0.8, 0.1}, []int8{1, 0, 1, 0})
	want := []PRPoint{{float64(float32(0.9)), 1, 0.5}, {float64(float32(0.8)), 2.0 / 3, 1}, {float64(float32(0.1)), 0.5, 1}}
	if fmt.Sprint(pts) != fmt.Sprint(want) {
		t.Errorf("PRCurve = %v, want %v", pts, want)
	}
	if MicroPRCurve([][]float32{{0.5}}, [][]int8{{0}}) != nil {
		t.Error("micro curve without positives should be nil")
	}
}
