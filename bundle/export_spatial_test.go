package bundle_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/headparams"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/model"
)

// graphScores runs the head's GoMLX training graph (head.AttentionGraph, or
// head.PoolGraph then the dense layers) on the pure-Go backend: sigmoid(logits).
func graphScores(t *testing.T, h *head.Params, maps []float32, n int) []float32 {
	t.Helper()
	w, dims := h.Weights()
	x := maps
	if h.Kind == head.Attention {
		x = h.Standardize(maps, n)
	}
	args := []any{tensors.FromFlatDataAndDimensions(x, n, h.In)}
	for i := range w {
		args = append(args, tensors.FromFlatDataAndDimensions(append([]float32(nil), w[i]...), dims[i]...))
	}
	out, err := graph.ExecOnceN(gobackend.GetBackend(), func(g *graph.Graph, in []*graph.Node) []*graph.Node {
		if h.Kind == head.Attention {
			return []*graph.Node{graph.Sigmoid(head.AttentionGraph(h, in[0], in[1:], head.AttnDrops{}))}
		}
		ws := in[1:]
		p := head.PoolGraph(h, in[0], ws[len(ws)-1])
		wd := h.Width()
		mean := graph.Const(g, tensors.FromFlatDataAndDimensions(append([]float32(nil), h.Mean...), 1, wd))
		std := graph.Const(g, tensors.FromFlatDataAndDimensions(append([]float32(nil), h.Std...), 1, wd))
		return []*graph.Node{graph.Sigmoid(head.ForwardGraph(h.Kind, graph.Div(graph.Sub(p, mean), std), ws[:len(ws)-1], nil))}
	}, args...)
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

// The attention head (group decoding: 5 labels on 2 queries) and GeM heads on the
// shared SqueezeNet's 512×13×13 map: the exported ONNX graph (backbone + head), run by
// ONNX Runtime from Go and by onnxruntime-node, gives the GoMLX training graph's
// scores and predict's (pure-Go head) within 1e-4.
func TestExportSpatialHeads(t *testing.T) {
	lib := sharedtest.ORTLib(t)
	b0, x, n := exportFixture(t, head.Linear)
	bb, err := backbone.Load(filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx"), backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, hh, ww, err := bb.SpatialShape()
	if err != nil {
		t.Fatal(err)
	}
	sm, err := bb.SpatialModel()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := ort.Open(sm, ort.Options{LibPath: lib})
	if err != nil {
		t.Fatal(err)
	}
	maps, err := eng.Run(context.Background(), x, n)
	eng.Close()
	if err != nil {
		t.Fatal(err)
	}
	tok := hh * ww
	for _, tc := range []struct{ name, kind, pool string }{
		{"attention", head.Attention, ""}, {"linear-gem", head.Linear, head.PoolGeM}, {"mlp-gem", head.MLP, head.PoolGeM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h *head.Params
			if tc.kind == head.Attention {
				h, err = head.NewAttention(c, tok, 5, headparams.AttnOptions{Dim: 32, MaxQueries: 2}, 3)
				if err != nil {
					t.Fatal(err)
				}
				h.Mean, h.Std = make([]float32, c), make([]float32, c)
				for ch := 0; ch < c; ch++ {
					var s, s2 float64
					for i := 0; i < n; i++ {
						for _, v := range maps[(i*c+ch)*tok : (i*c+ch+1)*tok] {
							s, s2 = s+float64(v), s2+float64(v)*float64(v)
						}
					}
					m := s / float64(n*tok)
					h.Mean[ch], h.Std[ch] = float32(m), float32(math.Sqrt(max(s2/float64(n*tok)-m*m, 0))+0.1)
				}
			} else {
				h, err = head.New(tc.kind, c, 16, 5, 3)
				if err != nil {
					t.Fatal(err)
				}
				h.In, h.Channels, h.Tokens, h.Pool, h.GeM = c*tok, c, tok, head.PoolGeM, []float32{2.7}
				pooled := h.PoolMaps(maps, n)
				h.Mean, h.Std = make([]float32, c), make([]float32, c)
				for ch := range h.Mean {
					h.Mean[ch], h.Std[ch] = pooled[ch], 0.5+float32(ch%3)
				}
			}
			b := *b0
			b.Backbone, b.Head = sm, *h
			b.BackboneInfo.FeatureDim, b.BackboneInfo.Pool = c*tok, ""
			if err := b.Validate(); err != nil {
				t.Fatal(err)
			}
			m, err := model.New(&b, model.Options{Engine: "ort", ORTLib: lib})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			predict := scoresOf(t, m, &b, x, n)
			want := graphScores(t, h, maps, n)
			if d := maxAbsDiff(predict, want); d > 1e-4 {
				t.Fatalf("predict (pure-Go head) differs from the training graph by %g", d)
			}
			spread := 0.0
			for _, v := range want {
				spread = math.Max(spread, math.Abs(float64(v)-float64(want[0])))
			}
			if spread < 1e-3 {
				t.Fatalf("scores barely vary (%g): the check would not see a wrong graph", spread)
			}
			onnx, err := bundle.ExportONNX(&b)
			if err != nil {
				t.Fatal(err)
			}
			e2, err := ort.Open(onnx, ort.Options{LibPath: lib})
			if err != nil {
				t.Fatal(err)
			}
			defer e2.Close()
			got, err := e2.Run(context.Background(), x, n)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got, want); d > 1e-4 {
				t.Fatalf("exported graph in ONNX Runtime (Go) differs from the training graph by %g", d)
			}
			t.Logf("%s: exported graph (ORT via Go) vs training graph: max abs diff %.2g", tc.name, maxAbsDiff(got, want))
			if d, ok := nodeDiff(t, &b, onnx, x, n, want); ok {
				t.Logf("%s: onnxruntime-node vs training graph: max abs diff %.2g", tc.name, d)
			}
		})
	}
}
