package finetune

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/gobackend"

	gomlxeng "github.com/multilabel/multilabel/engine/gomlx"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/loss"
)

func randSlice(rng *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = (rng.Float32()*2 - 1) * scale
	}
	return x
}

func maxAbsDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

func TestBlocksDemo(t *testing.T) {
	t.Parallel()
	fb, _ := demoFeatures(t)
	bl := fb.Blocks()
	var names []string
	for _, b := range bl {
		names = append(names, b.Name)
	}
	want := []string{"stem", "b1", "d1", "b2", "d2", "b3"}
	if len(names) != len(want) {
		t.Fatalf("blocks %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("blocks %v, want %v", names, want)
		}
	}
	if bl[0].Cut != "input" || bl[5].Cut != "d2.relu" {
		t.Errorf("cuts %q, %q; want input, d2.relu", bl[0].Cut, bl[5].Cut)
	}
	var sum int64
	for _, b := range bl {
		sum += b.Params
	}
	if bl[0].TailParams != sum {
		t.Errorf("first block's tail params %d, want all %d", bl[0].TailParams, sum)
	}
	for _, u := range []string{"0", "-1", "x", ""} {
		if _, err := CutFor(bl, u); err == nil {
			t.Errorf("CutFor(%q) accepted", u)
		}
	}
	if c, _ := CutFor(bl, "99"); c.Cut != "input" {
		t.Errorf("CutFor(99) = %q, want the input", c.Cut)
	}
	if _, err := SplitModel(mustFeature(t), "b2.c1.relu", []int64{16, 6, 6}); err == nil {
		t.Error("a cut inside a residual block was accepted")
	}
}

func mustFeature(t *testing.T) []byte {
	_, fm := demoFeatures(t)
	return fm
}

// TestTailMatchesGraph checks, for several cuts of the demo CNN (strided, padded and
// residual convolutions) and of a CNN with batch norms (testdata/make_bn.py), that the
// training graph (lowered and not) computes what the written-back ONNX graph computes in
// the pure-Go engine after the tail's weights changed, that training steps lower the
// loss, and that batch-norm statistics stay frozen.
func TestTailMatchesGraph(t *testing.T) {
	t.Parallel()
	for _, fx := range []struct {
		path string
		cuts []string
		bns  int
	}{{"../internal/demo/backbone.onnx", []string{"1", "2", "all"}, 0}, {"testdata/bn_cnn.onnx", []string{"1", "all"}, 1}} {
		t.Run(filepath.Base(fx.path), func(t *testing.T) { testTailMatchesGraph(t, fx.path, fx.cuts, fx.bns) })
	}
}

func testTailMatchesGraph(t *testing.T, path string, cuts []string, bns int) {
	fb, fm := loadFeatures(t, path)
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 5
	img := randSlice(rng, n*fb.Spec.TensorLen(), 2)
	bl := fb.Blocks()
	for _, k := range cuts {
		blk, err := CutFor(bl, k)
		if err != nil {
			t.Fatal(err)
		}
		sp, err := SplitModel(fm, blk.Cut, fb.TensorShape(blk.Cut)[1:])
		if err != nil {
			t.Fatal(err)
		}
		if k == "1" && sp.BatchNorms != bns {
			t.Errorf("K=1: %d batch norms in the tail, want %d", sp.BatchNorms, bns)
		}
		if (k == "all") != (sp.Prefix == nil) {
			t.Fatalf("K=%s: prefix present %v", k, sp.Prefix != nil)
		}
		h, _ := head.New(head.Linear, fb.FeatureDim, 0, 3, 7)
		h.Mean = randSlice(rng, fb.FeatureDim, 0.1)
		h.Std = make([]float32, fb.FeatureDim)
		for i := range h.Std {
			h.Std[i] = 0.5 + rng.Float32()
		}
		var outs [][]float32
		var tails [][][]float32
		for _, lowered := range []bool{false, true} {
			opt := NetOptions{Batch: 4, Loss: loss.Defaults(loss.BCE)}
			if lowered {
				opt.Shape = fb.TensorShape
			}
			net, err := NewNet(gobackend.GetBackend(), sp, *h, opt)
			if err != nil {
				t.Fatal(err)
			}
			if lowered && net.Lowered == 0 {
				t.Errorf("K=%s: nothing lowered", k)
			}
			st := net.InitState()
			for j := range st.Params { // the same "trained" weights for both nets
				r := rand.New(rand.NewPCG(uint64(j), 9))
				for i := range st.Params[j] {
					st.Params[j][i] += (r.Float32()*2 - 1) * 0.05
				}
			}
			acts := img
			if sp.Prefix != nil {
				pe, err := gomlxeng.Open(sp.Prefix, gomlxeng.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if acts, err = pe.Run(context.Background(), img, n); err != nil {
					t.Fatal(err)
				}
				pe.Close()
			}
			l, err := net.Logits(st, acts, n)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, l)
			tails = append(tails, net.TailWeights(st))
			if lowered {
				// A few steps on fixed data lower the loss.
				y := make([]float32, n*3)
				m := make([]float32, n*3)
				for i := range y {
					y[i], m[i] = float32(i%2), 1
				}
				var first, last float64
				stats0 := append([][]float32(nil), st.Stats...)
				for s := 0; s < 8; s++ {
					lv, err := net.Step(st, acts[:4*net.inLen], y[:12], m[:12], []float32{1, 1, 1}, 4, 1e-3, 1e-2)
					if err != nil {
						t.Fatal(err)
					}
					if s == 0 {
						first = lv
					}
					last = lv
				}
				for j := range stats0 {
					if maxAbsDiff(stats0[j], st.Stats[j]) != 0 {
						t.Errorf("K=%s: batch-norm statistics %d changed", k, j)
					}
				}
				if !(last < first) {
					t.Errorf("K=%s: loss %v -> %v did not decrease", k, first, last)
				}
			}
			net.Close()
		}
		if d := maxAbsDiff(outs[0], outs[1]); d > 1e-4 {
			t.Errorf("K=%s: lowered and plain tails differ by %g", k, d)
		}
		// The written-back feature graph + head gives the same logits.
		wb, err := sp.WriteBack(tails[1])
		if err != nil {
			t.Fatal(err)
		}
		e, err := gomlxeng.Open(wb, gomlxeng.Options{})
		if err != nil {
			t.Fatal(err)
		}
		f, err := e.Run(context.Background(), img, n)
		e.Close()
		if err != nil {
			t.Fatal(err)
		}
		hp := *h
		// net.Head would give the perturbed head; rebuild it from the same weights.
		net, _ := NewNet(gobackend.GetBackend(), sp, *h, NetOptions{Batch: 4, Loss: loss.Defaults(loss.BCE)})
		st := net.InitState()
		for j := range st.Params {
			r := rand.New(rand.NewPCG(uint64(j), 9))
			for i := range st.Params[j] {
				st.Params[j][i] += (r.Float32()*2 - 1) * 0.05
			}
		}
		hp = net.Head(st)
		net.Close()
		if d := maxAbsDiff(hp.Logits(f, n), outs[1]); d > 1e-4 {
			t.Errorf("K=%s: written-back graph + head differs from the training graph by %g", k, d)
		}
	}
}

func TestLearningRate(t *testing.T) {
	t.Parallel()
	if LearningRate(0, 10, 4) != 0.25 || LearningRate(3, 10, 4) != 1 {
		t.Errorf("warmup: %v %v", LearningRate(0, 10, 4), LearningRate(3, 10, 4))
	}
	if v := LearningRate(4, 10, 4); v != 1 {
		t.Errorf("peak after warmup: %v", v)
	}
	if v := LearningRate(9, 10, 0); !(v > 0 && v < 0.05) {
		t.Errorf("end of cosine: %v", v)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{{LR: -1}, {TailFactor: math.NaN()}, {Unfreeze: "0"}, {Backend: "tpu"}, {Resume: true}, {Loss: "nope"}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, _, err := Backend("xla"); err == nil {
		t.Error("xla backend accepted in a build without it")
	}
}

// TestTrainBN: with TrainBN the step normalises with batch statistics and moves the
// running statistics towards them (ONNX momentum 0.9, unbiased variance), checked
// against the statistics of the convolution output computed by the pure-Go engine.
func TestTrainBN(t *testing.T) {
	t.Parallel()
	fb, fm := loadFeatures(t, "testdata/bn_cnn.onnx")
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 4
	img := randSlice(rng, n*fb.Spec.TensorLen(), 2)
	run := func(cut string) []float32 {
		sp, err := SplitModel(fm, cut, fb.TensorShape(cut)[1:])
		if err != nil {
			t.Fatal(err)
		}
		e, err := gomlxeng.Open(sp.Prefix, gomlxeng.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		out, err := e.Run(context.Background(), img, n)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	acts, conv := run("blk1.relu"), run("blk2.conv") // conv: [n, 8, 8, 8]
	sp, err := SplitModel(fm, "blk1.relu", fb.TensorShape("blk1.relu")[1:])
	if err != nil {
		t.Fatal(err)
	}
	h, _ := head.New(head.Linear, fb.FeatureDim, 0, 3, 7)
	net, err := NewNet(gobackend.GetBackend(), sp, *h, NetOptions{Batch: n, Loss: loss.Defaults(loss.BCE), Shape: fb.TensorShape, TrainBN: true})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	st := net.InitState()
	old := [][]float32{append([]float32(nil), st.Stats[0]...), append([]float32(nil), st.Stats[1]...)}
	y := make([]float32, n*3)
	m := make([]float32, n*3)
	if _, err := net.Step(st, acts, y, m, []float32{1, 1, 1}, n, 0, 0); err != nil {
		t.Fatal(err)
	}
	const C, S = 8, 64
	for c := 0; c < C; c++ {
		var sum, sq float64
		for i := 0; i < n; i++ {
			for k := 0; k < S; k++ {
				v := float64(conv[(i*C+c)*S+k])
				sum += v
				sq += v * v
			}
		}
		cnt := float64(n * S)
		mean := sum / cnt
		uvar := (sq - cnt*mean*mean) / (cnt - 1)
		wantMean := 0.9*float64(old[0][c]) + 0.1*mean
		wantVar := 0.9*float64(old[1][c]) + 0.1*uvar
		if math.Abs(float64(st.Stats[0][c])-wantMean) > 1e-4 || math.Abs(float64(st.Stats[1][c])-wantVar) > 1e-3 {
			t.Errorf("channel %d: running mean/var %v/%v, want %v/%v", c, st.Stats[0][c], st.Stats[1][c], wantMean, wantVar)
		}
	}
	if _, err := net.Step(st, acts[:2*net.inLen], y[:6], m[:6], []float32{1, 1, 1}, 2, 0, 0); err == nil {
		t.Error("a partial batch was accepted with batch statistics")
	}
}
