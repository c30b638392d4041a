package train

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/headparams"
	"github.com/multilabel/multilabel/metric"
)

// spatialSet is a tiny set of 4×3×3 maps (post-ReLU-like, >= 0) where label j is
// present when channel j has one bright token somewhere; label 2 is present when
// both are (a co-occurrence the heads must learn).
func spatialSet(n int, seed uint64) ([]float32, [][]int8) {
	const c, t = 4, 9
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*c*t)
	y := make([][]int8, n)
	for i := range y {
		for k := i * c * t; k < (i+1)*c*t; k++ {
			x[k] = float32(rng.Float64() * 0.3)
		}
		y[i] = make([]int8, 3)
		for j := 0; j < 2; j++ {
			if rng.IntN(2) == 1 {
				y[i][j] = 1
				x[(i*c+j)*t+rng.IntN(t)] += 3
			}
		}
		if y[i][0] == 1 && y[i][1] == 1 {
			y[i][2] = 1
		}
	}
	return x, y
}

func spatialMAP(t *testing.T, p *head.Params, x []float32, y [][]int8) float64 {
	t.Helper()
	l, err := p.Forward(x, len(y))
	if err != nil {
		t.Fatal(err)
	}
	s := make([][]float32, len(y))
	for i := range s {
		s[i] = l[i*p.Out : (i+1)*p.Out]
	}
	m, _, _ := metric.MeanAP(s, y)
	return m
}

// The attention head (learnt and fixed queries) and the GeM heads train on spatial
// maps; fixed queries stay as initialised, GeM's exponent is learnt, and the trained
// heads rank the held-out maps well.
func TestFitSpatialHeads(t *testing.T) {
	t.Parallel()
	trX, trY := spatialSet(256, 1)
	vaX, vaY := spatialSet(48, 2)
	cases := []struct {
		name string
		cfg  func(*Config)
	}{
		{"attention", func(c *Config) { c.Head = head.Attention }},
		{"attention fixed", func(c *Config) { c.Head = head.Attention; c.Attention.Fixed = true }},
		{"linear gem", func(c *Config) { c.Head, c.Pool = head.Linear, head.PoolGeM }},
		{"mlp gem", func(c *Config) { c.Head, c.Pool, c.Hidden = head.MLP, head.PoolGeM, 16 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.Backend, cfg.Epochs, cfg.BatchSize, cfg.LR, cfg.Patience, cfg.Seed = "go", 30, 32, 5e-3, 0, 3
			cfg.Spatial = []int{4, 3, 3}
			cfg.Attention = headparams.AttnOptions{Dim: 16, Heads: 2, MaxQueries: 2}
			cfg.Dropout = 0.1
			tc.cfg(&cfg)
			res, err := Fit(context.Background(), cfg, trX, trY, vaX, vaY, 36, Callbacks{})
			if err != nil {
				t.Fatal(err)
			}
			h := &res.Head
			if err := h.Validate(); err != nil {
				t.Fatal(err)
			}
			if m := spatialMAP(t, h, vaX, vaY); m < 0.85 {
				t.Errorf("validation mAP %.3f, want >= 0.85", m)
			}
			init, err := cfg.resolved().newHead(36, 3)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case h.Kind == head.Attention && h.Attn.Fixed:
				if !slices.Equal(h.Attn.Q, init.Attn.Q) {
					t.Errorf("fixed queries changed in training: %v vs %v", h.Attn.Q[:4], init.Attn.Q[:4])
				}
			case h.Kind == head.Attention:
				if slices.Equal(h.Attn.Q, init.Attn.Q) {
					t.Error("learnt queries did not change")
				}
				if h.Attn.Queries != 2 || h.Attn.Group != 2 {
					t.Errorf("queries %d group %d, want 2 and 2 (group decoding of 3 labels)", h.Attn.Queries, h.Attn.Group)
				}
			default:
				if h.GeM[0] == headparams.GeMInitP {
					t.Error("GeM exponent was not learnt")
				}
				t.Logf("gem p = %v", h.GeM[0])
			}
		})
	}
}

// Spatial heads need the map's shape, and gem needs a linear or MLP head.
func TestSpatialConfigErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{
		{Head: head.Attention},
		{Head: head.Linear, Pool: head.PoolGeM},
		{Head: head.Attention, Pool: head.PoolGeM, Spatial: []int{1, 2, 2}},
		{Head: head.Linear, Pool: "max", Spatial: []int{1, 2, 2}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	x, y := spatialSet(8, 1)
	cfg := Config{Head: head.Attention, Spatial: []int{4, 3, 2}, Backend: "go", Epochs: 1}
	if _, err := Fit(context.Background(), cfg, x, y, nil, nil, 36, Callbacks{}); err == nil {
		t.Error("rows of 36 values with Spatial 4×3×2: no error")
	}
}
