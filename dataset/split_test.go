package dataset

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/multilabel/multilabel/internal/sharedtest"
)

// synthDataset builds n samples over L labels with skewed label frequencies and
// correlated labels, from a seed.
func synthDataset(n, L int, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &Dataset{Format: "synthetic"}
	for l := range L {
		d.Labels = append(d.Labels, string(rune('a'+l)))
	}
	for i := range n {
		t := make([]int8, L)
		for l := range L {
			// Label l has frequency about 0.5/(l+1); label 1 follows label 0 often.
			if rng.Float64() < 0.5/float64(l+1) || (l == 1 && t[0] == Positive && rng.Float64() < 0.5) {
				t[l] = Positive
			}
		}
		if i%17 == 0 {
			t[L-1] = Unknown
		}
		d.Samples = append(d.Samples, Sample{Image: "img" + string(rune('0'+i%10)), Truth: t})
	}
	return d
}

func checkPartition(t *testing.T, parts [][]int, n int) {
	t.Helper()
	seen := make([]bool, n)
	for _, p := range parts {
		if !slices.IsSorted(p) {
			t.Fatal("part indices not ascending")
		}
		for _, i := range p {
			if seen[i] {
				t.Fatalf("sample %d in two parts", i)
			}
			seen[i] = true
		}
	}
	for i, s := range seen {
		if !s {
			t.Fatalf("sample %d in no part", i)
		}
	}
}

func TestIterativeStratifyDeterministicAndStratified(t *testing.T) {
	t.Parallel()
	d := synthDataset(2000, 8, 3)
	ratios := []float64{0.8, 0.1, 0.1}
	a, err := IterativeStratify(d, ratios, 42)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := IterativeStratify(d, ratios, 42)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different split")
	}
	c, _ := IterativeStratify(d, ratios, 43)
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds, same split")
	}
	checkPartition(t, a, len(d.Samples))
	for j, r := range ratios {
		if want := r * 2000; float64(len(a[j])) < want-1 || float64(len(a[j])) > want+1 {
			t.Errorf("part %d has %d samples, want ≈%.0f", j, len(a[j]), want)
		}
	}
	// Per-label positive counts follow the ratios closely; compare with random splits.
	strat := LabelDistribution(d, a)
	var random float64
	for seed := range uint64(5) {
		random += LabelDistribution(d, randomSplit(len(d.Samples), ratios, seed))
	}
	random /= 5
	t.Logf("label distribution deviation: stratified %.5f, random %.5f", strat, random)
	if strat > random/2 {
		t.Errorf("stratified deviation %.5f not well below random %.5f", strat, random)
	}
	// The rarest label (h, ~6%) is split 80/10/10 to within one sample.
	for j, r := range ratios {
		var cnt, tot int
		for _, i := range a[j] {
			if d.Samples[i].Truth[7] == Positive {
				cnt++
			}
		}
		for _, s := range d.Samples {
			if s.Truth[7] == Positive {
				tot++
			}
		}
		if diff := float64(cnt) - r*float64(tot); diff < -1.01 || diff > 1.01 {
			t.Errorf("rare label in part %d: %d of %d, want ≈%.1f", j, cnt, tot, r*float64(tot))
		}
	}
}

func randomSplit(n int, ratios []float64, seed uint64) [][]int {
	perm := rand.New(rand.NewPCG(seed, 9)).Perm(n)
	parts := make([][]int, len(ratios))
	start := 0
	for j, r := range ratios {
		end := start + int(r*float64(n)+0.5)
		if j == len(ratios)-1 || end > n {
			end = n
		}
		parts[j] = append([]int(nil), perm[start:end]...)
		slices.Sort(parts[j])
		start = end
	}
	return parts
}

func TestIterativeStratifyEdgeCases(t *testing.T) {
	t.Parallel()
	d := synthDataset(10, 3, 1)
	for _, bad := range [][]float64{nil, {0.5, 0}, {1, -1}} {
		if _, err := IterativeStratify(d, bad, 1); err == nil {
			t.Errorf("ratios %v accepted", bad)
		}
	}
	parts, err := IterativeStratify(&Dataset{Labels: []string{"a"}}, []float64{1, 1}, 1)
	if err != nil || len(parts) != 2 || len(parts[0])+len(parts[1]) != 0 {
		t.Fatalf("empty dataset: %v %v", parts, err)
	}
	parts, err = IterativeStratify(d, []float64{2, 1, 1}, 1) // not normalised
	if err != nil {
		t.Fatal(err)
	}
	checkPartition(t, parts, 10)
}

func TestStratifyMIML(t *testing.T) {
	t.Parallel()
	dir := sharedtest.Dir(t, "data/miml-scenes")
	d, err := Load(filepath.Join(dir, "labels_onehot.csv"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := IterativeStratify(d, []float64{0.8, 0.1, 0.1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkPartition(t, parts, len(d.Samples))
	strat := LabelDistribution(d, parts)
	var random float64
	for seed := range uint64(5) {
		random += LabelDistribution(d, randomSplit(len(d.Samples), []float64{0.8, 0.1, 0.1}, seed))
	}
	random /= 5
	t.Logf("MIML 80/10/10: sizes %d/%d/%d, label deviation stratified %.5f, random %.5f",
		len(parts[0]), len(parts[1]), len(parts[2]), strat, random)
	if strat > random/2 {
		t.Errorf("stratified deviation %.5f not well below random %.5f", strat, random)
	}
	for j, want := range []int{1200, 150, 150} {
		if n := len(parts[j]); n < want-1 || n > want+1 {
			t.Errorf("part %d: %d samples, want %d±1", j, n, want)
		}
	}
}

func TestWriteCSVRoundTrip(t *testing.T) {
	t.Parallel()
	d := &Dataset{Labels: []string{"cat", "big dog", "a,b"}, Samples: []Sample{
		{Image: "x.jpg", Truth: []int8{1, 0, -1}},
		{Image: "sub/y z.png", Truth: []int8{0, 1, 1}},
	}}
	p := filepath.Join(t.TempDir(), "out.csv")
	if err := WriteCSV(p, d); err != nil {
		t.Fatal(err)
	}
	back, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if back.Format != "csv-onehot" || !reflect.DeepEqual(back.Labels, d.Labels) || truthString(back) != truthString(d) {
		t.Fatalf("round trip: %v %s, want %v %s", back.Labels, truthString(back), d.Labels, truthString(d))
	}
	sub := back.Subset([]int{1})
	sub.Samples[0].Truth[0] = 1
	if back.Samples[1].Truth[0] != 0 || len(sub.Samples) != 1 {
		t.Fatal("Subset shares truth with its parent")
	}
	// A failed write leaves nothing behind.
	if err := WriteCSV(filepath.Join(t.TempDir(), "no", "such", "dir.csv"), d); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	bad := &Dataset{Labels: []string{"a"}, Samples: []Sample{{Image: "x", Truth: []int8{1, 0}}}}
	dir := t.TempDir()
	if err := WriteCSV(filepath.Join(dir, "bad.csv"), bad); err == nil {
		t.Fatal("mismatched truth accepted")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("failed write left %v", ents)
	}
}

func BenchmarkIterativeStratify(b *testing.B) {
	d := synthDataset(20000, 20, 1)
	for b.Loop() {
		if _, err := IterativeStratify(d, []float64{0.8, 0.1, 0.1}, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(d.Samples)*b.N)/b.Elapsed().Seconds(), "samples/s")
}
