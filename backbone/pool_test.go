package backbone_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine"
	"github.com/multilabel/multilabel/engine/gomlx"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// poolRef pools a flattened [n][c][hw] map in plain Go: the reference the pooled
// feature graphs are checked against.
func poolRef(m []float32, n, c, hw int, pool string) []float32 {
	var out []float32
	for i := 0; i < n; i++ {
		avg := make([]float32, c)
		mx := make([]float32, c)
		for k := 0; k < c; k++ {
			s, best := 0.0, math.Inf(-1)
			for _, v := range m[(i*c+k)*hw : (i*c+k+1)*hw] {
				s += float64(v)
				best = math.Max(best, float64(v))
			}
			avg[k], mx[k] = float32(s/float64(hw)), float32(best)
		}
		switch pool {
		case backbone.PoolMax:
			out = append(out, mx...)
		case backbone.PoolAvgMax:
			out = append(append(out, avg...), mx...)
		default:
			out = append(out, avg...)
		}
	}
	return out
}

// The pooled feature graphs (ReduceMean/ReduceMax/Concat inside the graph) give what
// pooling the raw spatial map in Go gives, in ONNX Runtime and in the pure-Go engine.
func TestPoolChoices(t *testing.T) {
	t.Parallel()
	lib := sharedtest.ORTLib(t)
	r := loadRef(t)
	const cut = "/Relu_1_output_0"
	// The spatial map itself: the same cut, flattened instead of pooled.
	sp, err := backbone.Load("testdata/tiny_gemm.onnx", backbone.Options{Spec: tinySpec(), FeatureNode: cut})
	if err != nil {
		t.Fatal(err)
	}
	flat := *sp
	flat.Pooled, flat.FeatureDim = false, 0
	fm, err := flat.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	e, err := ort.Open(fm, ort.Options{LibPath: lib})
	if err != nil {
		t.Fatal(err)
	}
	spatial, err := e.Run(context.Background(), r.Input, 2)
	e.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := sp.FeatureDim
	hw := len(spatial) / 2 / c
	if hw < 2 {
		t.Fatalf("cut %s has %d spatial positions", cut, hw)
	}
	for _, pool := range []string{backbone.PoolAvg, backbone.PoolMax, backbone.PoolAvgMax} {
		b, err := backbone.Load("testdata/tiny_gemm.onnx", backbone.Options{Spec: tinySpec(), FeatureNode: cut, Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
		wantDim := c
		if pool == backbone.PoolAvgMax {
			wantDim = 2 * c
		}
		if b.Pool != pool || b.FeatureDim != wantDim {
			t.Fatalf("%s: pool %q dim %d, want dim %d", pool, b.Pool, b.FeatureDim, wantDim)
		}
		m, err := b.FeatureModel()
		if err != nil {
			t.Fatal(err)
		}
		want := poolRef(spatial, 2, c, hw, pool)
		for _, open := range []func() (engine.Engine, error){
			func() (engine.Engine, error) { return ort.Open(m, ort.Options{LibPath: lib}) },
			func() (engine.Engine, error) { return gomlx.Open(m, gomlx.Options{}) },
		} {
			e, err := open()
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Run(context.Background(), r.Input, 2)
			name := e.Name()
			e.Close()
			if err != nil {
				t.Fatalf("%s %s: %v", pool, name, err)
			}
			closeTo(t, fmt.Sprintf("%s pooled in %s", pool, name), got, want, 1e-5)
		}
	}
}

func TestPoolBadInput(t *testing.T) {
	t.Parallel()
	// A cut without spatial dimensions: max pooling is refused, naming the cut and the way out.
	_, err := backbone.Load("testdata/tiny_gemm.onnx", backbone.Options{Spec: tinySpec(), Pool: backbone.PoolMax})
	if !errors.Is(err, backbone.ErrNoFeature) || !strings.Contains(err.Error(), "/Flatten_output_0") || !strings.Contains(err.Error(), "backbone inspect") {
		t.Fatalf("max on a flat cut: %v", err)
	}
	// The default stays accepted there.
	if _, err := backbone.Load("testdata/tiny_gemm.onnx", backbone.Options{Spec: tinySpec(), Pool: backbone.PoolAvg}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"gem", "median"} {
		_, err := backbone.Load("testdata/tiny_gemm.onnx", backbone.Options{Spec: tinySpec(), FeatureNode: "/Relu_1_output_0", Pool: p})
		if !errors.Is(err, backbone.ErrNoFeature) || !strings.Contains(err.Error(), p) {
			t.Fatalf("pool %s: %v", p, err)
		}
	}
	if p, err := backbone.ParsePool(" AvgMax "); err != nil || p != backbone.PoolAvgMax {
		t.Fatalf("ParsePool: %q %v", p, err)
	}
}
