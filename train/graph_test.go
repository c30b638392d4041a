package train

import (
	"context"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/head"
)

// The graph head learns a separable task; the linear head it returns reproduces the
// validation mAP that the GoMLX training graph measured (so bundle, predict and export,
// which only see the linear head, give the training graph's outputs); the run records
// its label graph and is deterministic and resumable.
func TestGraphHead(t *testing.T) {
	t.Parallel()
	const dim = 24
	x, y := synthetic(600, dim, []float64{0.4, 0.3, 0.3, 0.2, 0.5}, 0.1, 0, 3)
	// Label 5 co-occurs with label 0 (a copy of it): the graph must link them.
	for i := range y {
		y[i] = append(y[i], y[i][0])
	}
	trX, trY, vaX, vaY := split(x, y, dim, 450)
	cfg := DefaultConfig()
	cfg.Head, cfg.Epochs, cfg.BatchSize, cfg.LR, cfg.GraphHidden, cfg.Seed = head.GraphHead, 20, 32, 3e-3, 16, 5
	res, err := Fit(context.Background(), cfg, trX, trY, vaX, vaY, dim, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Head.Kind != head.Linear || res.Head.In != dim || res.Head.Out != 6 || res.Config.Head != head.GraphHead {
		t.Fatalf("head %s %d→%d, config head %q", res.Head.Kind, res.Head.In, res.Head.Out, res.Config.Head)
	}
	if res.Config.GraphTau != 0.4 || res.Config.GraphP != 0.2 || res.Config.GraphHidden != 16 {
		t.Errorf("graph defaults not recorded: %+v", res.Config)
	}
	g := res.Graph
	if g == nil || g.Labels != 6 {
		t.Fatalf("no label graph recorded: %+v", g)
	}
	if g.Adj[0*6+5] == 0 || g.Adj[5*6+0] == 0 {
		t.Errorf("labels 0 and 5 always co-occur but are not linked: row 0 %v", g.Adj[:6])
	}
	if res.BestValMAP < 0.9 {
		t.Errorf("val mAP %.4f < 0.9", res.BestValMAP)
	}
	got, _ := headMAP(t, &res.Head, vaX, vaY)
	if math.Abs(got-res.BestValMAP) > 1e-6 {
		t.Errorf("linear form val mAP %.6f, training graph reported %.6f", got, res.BestValMAP)
	}
	again, err := Fit(context.Background(), cfg, trX, trY, vaX, vaY, dim, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Head, res.Head) || !reflect.DeepEqual(stripTimes(again.History), stripTimes(res.History)) {
		t.Error("same seed, different graph head")
	}

	// Interrupted after 3 epochs and resumed: the same head.
	ck := filepath.Join(t.TempDir(), "graph.ckpt")
	c2 := cfg
	c2.Checkpoint = ck
	ctx, cancel := context.WithCancel(context.Background())
	epochs := 0
	if _, err := Fit(ctx, c2, trX, trY, vaX, vaY, dim, Callbacks{OnEpoch: func(Epoch) {
		if epochs++; epochs == 3 {
			cancel()
		}
	}}); err == nil {
		t.Fatal("cancelled run did not fail")
	}
	c2.Resume = true
	resumed, err := Fit(context.Background(), c2, trX, trY, vaX, vaY, dim, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	if !resumed.Resumed || !reflect.DeepEqual(resumed.Head, res.Head) {
		t.Errorf("resumed run: resumed=%v, same head=%v", resumed.Resumed, reflect.DeepEqual(resumed.Head, res.Head))
	}
}

// A label with no positive training image keeps only its self-loop (stated behaviour:
// its classifier is learnt alone, as in a linear head) and is listed; bad graph settings
// are refused.
func TestGraphHeadBadInput(t *testing.T) {
	t.Parallel()
	const dim = 8
	x, y := synthetic(120, dim, []float64{0.4, 0.3}, 0, 0, 4)
	for i := range y {
		y[i] = append(y[i], 0) // label 2: never positive
	}
	cfg := DefaultConfig()
	cfg.Head, cfg.Epochs, cfg.GraphHidden = head.GraphHead, 2, 4
	res, err := Fit(context.Background(), cfg, x, y, nil, nil, dim, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Graph.NoPositives, []int{2}) || res.Graph.Adj[2*3+2] != 1 {
		t.Errorf("label without positives: no_positives %v, row %v", res.Graph.NoPositives, res.Graph.Adj[6:9])
	}
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.GraphTau = 1.5 }, "tau"},
		{func(c *Config) { c.GraphP = 1 }, "re-weighting p"},
		{func(c *Config) { c.GraphP = -0.1 }, "re-weighting p"},
		{func(c *Config) { c.GraphHidden = -1 }, "embedding width"},
		{func(c *Config) { c.Init = &res.Head }, "warm start"},
	} {
		bad := cfg
		c.mod(&bad)
		if _, err := Fit(context.Background(), bad, x, y, nil, nil, dim, Callbacks{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error about %q, got %v", c.want, err)
		}
	}
}

// Streamed training rows (FitRows) give the graph head Fit's result on the same values.
func TestGraphHeadFitRows(t *testing.T) {
	t.Parallel()
	const dim = 12
	x, y := synthetic(150, dim, []float64{0.3, 0.5, 0.4}, 0.1, 0.05, 6)
	m, vals := mappedSet(t, x[:100*dim], 100, dim)
	trY, vaX, vaY := y[:100], x[100*dim:], y[100:]
	cfg := smallCfg()
	cfg.Head, cfg.GraphTau = head.GraphHead, 0.2
	ctx := context.Background()
	a, err := Fit(ctx, cfg, vals, trY, vaX, vaY, dim, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := FitRows(ctx, cfg, m, 100, dim, trY, vaX, vaY, StreamOptions{}, Callbacks{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Head, b.Head) || !reflect.DeepEqual(a.Graph, b.Graph) || a.Graph == nil {
		t.Fatal("FitRows' graph head differs from Fit's")
	}
}
