package bundle_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/model"
)

// exportFixture builds a bundle on the shared SqueezeNet with a seeded random head
// (standardisation included), and the preprocessed tensors of a few real images.
func exportFixture(t *testing.T, kind string) (*bundle.Bundle, []float32, int) {
	t.Helper()
	return exportFixturePool(t, kind, "")
}

// exportFixturePool is exportFixture with the backbone's spatial map pooled by pool.
func exportFixturePool(t *testing.T, kind, pool string) (*bundle.Bundle, []float32, int) {
	t.Helper()
	bbPath := filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	miml := sharedtest.Dir(t, "data/miml-scenes/images")
	bb, err := backbone.Load(bbPath, backbone.Options{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	fm, err := bb.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	labels := []string{"desert", "mountains", "sea", "sunset", "trees"}
	h, err := head.New(kind, bb.FeatureDim, 16, len(labels), 7)
	if err != nil {
		t.Fatal(err)
	}
	h.Mean = make([]float32, h.In)
	h.Std = make([]float32, h.In)
	for i := range h.Mean {
		h.Mean[i] = float32(i%7) * 0.5
		h.Std[i] = 1 + float32(i%5)
	}
	b := &bundle.Bundle{Backbone: fm, BackboneInfo: bundle.BackboneInfo{Name: "squeezenet1.1", FeatureDim: bb.FeatureDim, Pool: bb.Pool},
		Head: *h, Labels: labels, Thresholds: []float64{0.5, 0.5, 0.4, 0.5, 0.6}, Spec: bb.Spec}
	names := []string{"1.jpg", "2.jpg", "77.jpg", "1500.jpg"}
	tl := b.Spec.TensorLen()
	x := make([]float32, len(names)*tl)
	for i, n := range names {
		if err := imageio.LoadFile(filepath.Join(miml, n), b.Spec, x[i*tl:(i+1)*tl], imageio.DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return b, x, len(names)
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// TestExportMatchesPredict checks the exported graph against the bundle's own prediction
// path (backbone engine + pure-Go head), in ONNX Runtime through Go and in
// onnxruntime-node, a runtime this project did not write.
func TestExportMatchesPredict(t *testing.T) {
	lib := sharedtest.ORTLib(t)
	for _, kind := range []string{head.Linear, head.MLP} {
		t.Run(kind, func(t *testing.T) {
			b, x, n := exportFixture(t, kind)
			m, err := model.New(b, model.Options{Engine: "ort", ORTLib: lib})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			want := scoresOf(t, m, b, x, n)

			onnx, err := bundle.ExportONNX(b)
			if err != nil {
				t.Fatal(err)
			}
			var mp protos.ModelProto
			if err := proto.Unmarshal(onnx, &mp); err != nil {
				t.Fatal(err)
			}
			meta := map[string]string{}
			for _, p := range mp.MetadataProps {
				meta[p.Key] = p.Value
			}
			var gotLabels []string
			if err := json.Unmarshal([]byte(meta[bundle.MetaLabels]), &gotLabels); err != nil || len(gotLabels) != 5 || gotLabels[2] != "sea" {
				t.Fatalf("labels metadata %q (%v)", meta[bundle.MetaLabels], err)
			}
			var spec imageio.Spec
			if err := json.Unmarshal([]byte(meta[bundle.MetaPreprocess]), &spec); err != nil || spec != b.Spec {
				t.Fatalf("preprocess metadata %q (%v)", meta[bundle.MetaPreprocess], err)
			}
			if meta[bundle.MetaThresholds] != "[0.5,0.5,0.4,0.5,0.6]" {
				t.Fatalf("thresholds metadata %q", meta[bundle.MetaThresholds])
			}
			if meta[bundle.MetaDecision] != `{"rule":"f1","calibrated":false}` {
				t.Fatalf("decision metadata %q", meta[bundle.MetaDecision])
			}

			eng, err := ort.Open(onnx, ort.Options{LibPath: lib})
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			got, err := eng.Run(context.Background(), x, n)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got, want); d > 1e-4 {
				t.Fatalf("exported graph in ONNX Runtime (Go) differs from predict by %g", d)
			}
			t.Logf("%s head: exported graph vs predict, ORT via Go: max abs diff %.2g", kind, maxAbsDiff(got, want))

			d, ok := nodeDiff(t, b, onnx, x, n, want)
			if !ok {
				return
			}
			t.Logf("%s head: onnxruntime-node vs predict: max abs diff %.2g", kind, d)
		})
	}
}

// nodeDiff runs the exported graph in onnxruntime-node on x and returns the largest
// difference from want; ok is false when onnxruntime-node is not installed (outside CI).
func nodeDiff(t *testing.T, b *bundle.Bundle, onnx []byte, x []float32, n int, want []float32) (d float64, ok bool) {
	t.Helper()
	node := nodeORT(t)
	if node == "" {
		return 0, false
	}
	dir := t.TempDir()
	mpath := filepath.Join(dir, "model.onnx")
	ipath := filepath.Join(dir, "input.f32")
	os.WriteFile(mpath, onnx, 0o644)
	raw := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	os.WriteFile(ipath, raw, 0o644)
	shape := b.Spec.Shape()
	cmd := exec.Command("node", filepath.Join(sharedtest.Root(), "scripts", "ort_node_run.js"), mpath, ipath,
		itoa(n), itoa(int(shape[0])), itoa(int(shape[1])), itoa(int(shape[2])))
	cmd.Env = append(os.Environ(), "MULTILABEL_NODE_MODULES="+node)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderrOf(err))
	}
	var res struct {
		Name string
		Dims []int
		Data []float32
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node output: %v: %.200s", err, out)
	}
	if res.Name != bundle.ExportOutput || len(res.Dims) != 2 || res.Dims[0] != n || res.Dims[1] != len(b.Labels) {
		t.Fatalf("node output %s %v", res.Name, res.Dims)
	}
	d = maxAbsDiff(res.Data, want)
	if d > 1e-4 {
		t.Fatalf("onnxruntime-node differs from predict by %g", d)
	}
	return d, true
}

func scoresOf(t *testing.T, m *model.Model, b *bundle.Bundle, x []float32, n int) []float32 {
	t.Helper()
	eng, err := ort.Open(b.Backbone, ort.Options{LibPath: sharedtest.ORTLib(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	feats, err := eng.Run(context.Background(), x, n)
	if err != nil {
		t.Fatal(err)
	}
	var flat []float32
	for _, row := range m.ScoresFromFeatures(feats, n) {
		flat = append(flat, row...)
	}
	return flat
}

// nodeORT returns the node_modules directory holding onnxruntime-node, "" to skip.
func nodeORT(t *testing.T) string {
	dir := os.Getenv("MULTILABEL_NODE_MODULES")
	if dir == "" {
		if cache, err := os.UserCacheDir(); err == nil {
			dir = filepath.Join(cache, "multilabel", "node", "node_modules")
		}
	}
	_, nodeErr := exec.LookPath("node")
	if _, err := os.Stat(filepath.Join(dir, "onnxruntime-node")); err != nil || nodeErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("onnxruntime-node not found under %s (CI installs it in .ci/run)", dir)
		}
		t.Log("skipping the onnxruntime-node comparison: run `npm install --ignore-scripts --prefix ~/.cache/multilabel/node onnxruntime-node@1.24.1`")
		return ""
	}
	return dir
}

func itoa(i int) string { return strconv.Itoa(i) }

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// TestExportPooling checks max and avg+max pooling end to end: the pooling is inside the
// bundle's backbone graph, so the exported graph (ReduceMax/ReduceMean in it) gives the
// scores of the training-time path (features from the bundle's backbone, then the
// pure-Go head) within 1e-4 in ONNX Runtime.
func TestExportPooling(t *testing.T) {
	lib := sharedtest.ORTLib(t)
	for _, c := range []struct{ pool, kind, op string }{{backbone.PoolMax, head.Linear, "ReduceMax"}, {backbone.PoolAvgMax, head.MLP, "Concat"}} {
		t.Run(c.pool, func(t *testing.T) {
			b, x, n := exportFixturePool(t, c.kind, c.pool)
			if want := 512 * (1 + btoi(c.pool == backbone.PoolAvgMax)); b.Head.In != want {
				t.Fatalf("head input %d, want %d", b.Head.In, want)
			}
			m, err := model.New(b, model.Options{Engine: "ort", ORTLib: lib})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			want := scoresOf(t, m, b, x, n)
			onnx, err := bundle.ExportONNX(b)
			if err != nil {
				t.Fatal(err)
			}
			var mp protos.ModelProto
			if err := proto.Unmarshal(onnx, &mp); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, nd := range mp.Graph.Node {
				found = found || nd.OpType == c.op
			}
			if !found {
				t.Fatalf("exported graph has no %s node", c.op)
			}
			eng, err := ort.Open(onnx, ort.Options{LibPath: lib})
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			got, err := eng.Run(context.Background(), x, n)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got, want); d > 1e-4 {
				t.Fatalf("%s: exported graph differs from the training-time scores by %g", c.pool, d)
			}
			if d, ok := nodeDiff(t, b, onnx, x, n, want); ok {
				t.Logf("%s pooling: onnxruntime-node vs training-time scores: max abs diff %.2g", c.pool, d)
			}
			// Scores from max pooling differ from those of average pooling: the choice
			// reached the graph.
			avg, _, _ := exportFixturePool(t, c.kind, "")
			if avg.Head.In == b.Head.In && maxAbsDiff(scoresOf(t, m, avg, x, n), want) < 1e-3 {
				t.Fatalf("%s pooling gives the scores of average pooling", c.pool)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
