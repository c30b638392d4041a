package backbone_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// A feature node listing several cuts ("fire8/concat_1,fire9/concat_1") joins their
// maps along the channels: the pooled row is fire8's pooled row followed by fire9's, in
// the exported feature graph run by ONNX Runtime; the joined cut's reported name loads
// again as the same cut (bundles and explain reload it by that name); bad lists are
// refused naming the tensors and shapes.
func TestJoinedCutsSqueezeNet(t *testing.T) {
	t.Parallel()
	lib := sharedtest.ORTLib(t)
	p := filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	run := func(b *backbone.Backbone, in []float32) []float32 {
		t.Helper()
		m, err := b.FeatureModel()
		if err != nil {
			t.Fatal(err)
		}
		e, err := ort.Open(m, ort.Options{LibPath: lib})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		out, err := e.Run(context.Background(), in, 2)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, pool := range []string{backbone.PoolAvg, backbone.PoolMax} {
		opt := backbone.Options{FeatureNode: "fire8/concat_1, fire9/concat_1", Pool: pool, InputWidth: 256, InputHeight: 192}
		j, err := backbone.Load(p, opt)
		if err != nil {
			t.Fatal(err)
		}
		if j.FeatureNode != "concat(fire8/concat_1,fire9/concat_1)" || j.FeatureDim != 1024 || !j.Pooled || !strings.Contains(j.Reason, "joined along the channels") {
			t.Fatalf("joined cut %q dim %d pooled %v (%s)", j.FeatureNode, j.FeatureDim, j.Pooled, j.Reason)
		}
		rng := rand.New(rand.NewPCG(5, 6))
		in := make([]float32, 2*3*192*256)
		for i := range in {
			in[i] = float32(rng.NormFloat64() * 50)
		}
		got := run(j, in)
		var parts [][]float32
		for _, cut := range []string{"fire8/concat_1", "fire9/concat_1"} {
			b, err := backbone.Load(p, backbone.Options{FeatureNode: cut, Pool: pool, InputWidth: 256, InputHeight: 192})
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, run(b, in))
		}
		var want []float32
		for n := range 2 {
			want = append(want, parts[0][n*512:(n+1)*512]...)
			want = append(want, parts[1][n*512:(n+1)*512]...)
		}
		closeTo(t, pool+" joined row", got, want, 1e-5)

		// Reloaded by the name it reports: the same cut, no second Concat.
		again, err := backbone.Load(p, backbone.Options{FeatureNode: j.FeatureNode, Pool: pool, InputWidth: 256, InputHeight: 192})
		if err != nil {
			t.Fatal(err)
		}
		if again.FeatureNode != j.FeatureNode || again.FeatureDim != 1024 {
			t.Fatalf("reloaded as %q dim %d", again.FeatureNode, again.FeatureDim)
		}
		closeTo(t, pool+" reloaded joined row", run(again, in), want, 1e-5)
	}
	for _, c := range []struct{ list, want string }{
		{"fire4/concat_1,fire9/concat_1", "differ in spatial size"},
		{"fire9/concat_1,fire9/concat_1", "named twice"},
		{"fire9/concat_1,", "empty name"},
		{"fire9/concat_1,nope", `"nope" is neither a tensor nor a node`},
		{"fire9/concat_1,pool10_1", "differ in spatial size"},
	} {
		_, err := backbone.Load(p, backbone.Options{FeatureNode: c.list})
		if !errors.Is(err, backbone.ErrNoFeature) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--feature-node %s: %v, want an error containing %q", c.list, err, c.want)
		}
	}
}
