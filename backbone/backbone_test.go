package backbone_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine/gomlx"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

type tinyRef struct {
	InputShape   []int     `json:"input_shape"`
	Input        []float32 `json:"input"`
	Features     []float32 `json:"features"`
	Logits       []float32 `json:"logits"`
	FeaturesFP16 []float32 `json:"features_fp16"`
	LogitsFP16   []float32 `json:"logits_fp16"`
}

func loadRef(t *testing.T) tinyRef {
	t.Helper()
	data, err := os.ReadFile("testdata/tiny_ref.json")
	if err != nil {
		t.Fatal(err)
	}
	var r tinyRef
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func tinySpec() *imageio.Spec {
	s := imageio.ImageNetSpec()
	s.Width, s.Height, s.ResizeShorter = 32, 32, 0
	return &s
}

func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %v, want %v (PyTorch)", what, i, got[i], want[i])
		}
	}
}

func TestLoadSqueezeNet(t *testing.T) {
	t.Parallel()
	p := filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	b, err := backbone.Load(p, backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.SHA256 != backbone.SqueezeNetFP16SHA256 {
		t.Errorf("sha256 %s", b.SHA256)
	}
	if b.FeatureNode != "fire9/concat_1" || b.FeatureDim != 512 || !b.Pooled {
		t.Errorf("cut %q dim %d pooled %v", b.FeatureNode, b.FeatureDim, b.Pooled)
	}
	if b.Params != 1235496 || b.Opset != 7 || b.IRVersion != 3 || b.Input != "data_0" {
		t.Errorf("params %d opset %d ir %d input %q", b.Params, b.Opset, b.IRVersion, b.Input)
	}
	if b.Spec != backbone.SqueezeNetSpec() || b.SpecSource != "builtin squeezenet1_1_fp16" {
		t.Errorf("spec %+v from %s", b.Spec, b.SpecSource)
	}
	conv := strings.Join(b.Conversions, "; ")
	for _, w := range []string{"float16 -> float32", "batch 1 -> dynamic", "removed 52 initializers"} {
		if !strings.Contains(conv, w) {
			t.Errorf("conversions %q lack %q", conv, w)
		}
	}
	if len(b.Candidates) == 0 || !b.Candidates[0].Chosen || b.Candidates[0].Dim != 512 {
		t.Errorf("candidates %+v", b.Candidates)
	}
}

func TestTinyGemm(t *testing.T) {
	t.Parallel()
	b, err := backbone.Load("testdata/tiny_gemm.onnx", backbone.Options{Spec: tinySpec()})
	if err != nil {
		t.Fatal(err)
	}
	if b.FeatureNode != "/Flatten_output_0" || b.FeatureDim != 16 || b.Pooled {
		t.Fatalf("cut %q dim %d pooled %v (%s)", b.FeatureNode, b.FeatureDim, b.Pooled, b.Reason)
	}
	if !strings.Contains(b.Reason, "Gemm") {
		t.Errorf("reason %q", b.Reason)
	}
	r := loadRef(t)
	lib := sharedtest.ORTLib(t)
	for _, c := range []struct {
		name  string
		model func() ([]byte, error)
		want  []float32
		per   int64
	}{{"features", b.FeatureModel, r.Features, 16}, {"logits", b.ClassifierModel, r.Logits, 5}} {
		m, err := c.model()
		if err != nil {
			t.Fatal(err)
		}
		e, err := ort.Open(m, ort.Options{LibPath: lib})
		if err != nil {
			t.Fatal(err)
		}
		if s := e.OutputShape(); len(s) != 1 || s[0] != c.per {
			t.Fatalf("%s shape %v", c.name, s)
		}
		got, err := e.Run(context.Background(), r.Input, 2) // batch 2 through a graph exported with batch 1
		e.Close()
		if err != nil {
			t.Fatal(err)
		}
		closeTo(t, c.name, got, c.want, 1e-4)
	}
}

func TestTinyFP16Reshape(t *testing.T) {
	t.Parallel()
	b, err := backbone.Load("testdata/tiny_reshape_fp16.onnx", backbone.Options{Spec: tinySpec()})
	if err != nil {
		t.Fatal(err)
	}
	conv := strings.Join(b.Conversions, "; ")
	for _, w := range []string{"float16 -> float32", "1 Reshape constants rewritten", "removed 6 initializers"} {
		if !strings.Contains(conv, w) {
			t.Errorf("conversions %q lack %q", conv, w)
		}
	}
	if b.FeatureNode != "/Reshape_output_0" || b.FeatureDim != 16 {
		t.Fatalf("cut %q dim %d", b.FeatureNode, b.FeatureDim)
	}
	r := loadRef(t)
	lib := sharedtest.ORTLib(t)
	for _, c := range []struct {
		name  string
		model func() ([]byte, error)
		want  []float32
	}{{"features", b.FeatureModel, r.FeaturesFP16}, {"logits", b.ClassifierModel, r.LogitsFP16}} {
		m, err := c.model()
		if err != nil {
			t.Fatal(err)
		}
		e, err := ort.Open(m, ort.Options{LibPath: lib})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Run(context.Background(), r.Input, 2)
		e.Close()
		if err != nil {
			t.Fatal(err)
		}
		closeTo(t, c.name, got, c.want, 1e-4)
	}
}

func TestFeatureNodeOverride(t *testing.T) {
	t.Parallel()
	b, err := backbone.Load("testdata/tiny_gemm.onnx", backbone.Options{Spec: tinySpec(), FeatureNode: "/Relu_1_output_0"})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Pooled || b.FeatureDim != 16 || b.Reason != "chosen by the user, global-average-pooled" {
		t.Fatalf("override: dim %d pooled %v reason %q", b.FeatureDim, b.Pooled, b.Reason)
	}
	if _, err := b.FeatureModel(); err != nil {
		t.Fatal(err)
	}
	_, err = backbone.Load("testdata/tiny_gemm.onnx", backbone.Options{Spec: tinySpec(), FeatureNode: "nope"})
	if !errors.Is(err, backbone.ErrNoFeature) || !strings.Contains(err.Error(), "tiny_gemm.onnx") {
		t.Fatalf("unknown node: %v", err)
	}
}

func TestBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/tiny_gemm.onnx")
	if err != nil {
		t.Fatal(err)
	}
	trunc := filepath.Join(dir, "truncated.onnx")
	os.WriteFile(trunc, data[:len(data)/2], 0o644)
	_, err = backbone.Load(trunc, backbone.Options{})
	if !errors.Is(err, backbone.ErrTruncated) || !strings.Contains(err.Error(), trunc) {
		t.Fatalf("truncated: %v", err)
	}
	for name, content := range map[string]string{
		"text.onnx":  "hello, this is not a model\n",
		"image.onnx": "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
		"empty.onnx": "",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		_, err := backbone.Load(p, backbone.Options{})
		if !errors.Is(err, backbone.ErrNotONNX) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := backbone.Load(filepath.Join(dir, "missing.onnx"), backbone.Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

func TestSidecarAndDefaultSpec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data, _ := os.ReadFile("testdata/tiny_gemm.onnx")
	p := filepath.Join(dir, "net.onnx")
	os.WriteFile(p, data, 0o644)
	// No sidecar: the default spec at the input's fixed size.
	b, err := backbone.Load(p, backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.SpecSource != "default" || b.Spec.Width != 32 || b.Spec.ChannelOrder != "RGB" || b.Spec.Layout != "NCHW" {
		t.Fatalf("default spec %+v from %s", b.Spec, b.SpecSource)
	}
	side := *tinySpec()
	side.ChannelOrder = "BGR"
	js, _ := json.Marshal(side)
	os.WriteFile(filepath.Join(dir, "net.json"), js, 0o644)
	if b, err = backbone.Load(p, backbone.Options{}); err != nil {
		t.Fatal(err)
	}
	if b.Spec != side || !strings.HasPrefix(b.SpecSource, "sidecar ") {
		t.Fatalf("sidecar spec %+v from %s", b.Spec, b.SpecSource)
	}
	// A sidecar may give another size than the fixed input: the input is rewritten to
	// it (Resized, listed among the conversions).
	wide := side
	wide.Width = 64
	js, _ = json.Marshal(wide)
	os.WriteFile(p+".json", js, 0o644)
	if b, err = backbone.Load(p, backbone.Options{}); err != nil {
		t.Fatalf("sidecar of another size: %v", err)
	}
	if !b.Resized || b.InputShape[2] != 64 || !strings.Contains(strings.Join(b.Conversions, ";"), "-> [3 32 64]") {
		t.Fatalf("sidecar of another size: resized %v, input %v, conversions %q", b.Resized, b.InputShape, b.Conversions)
	}
	os.WriteFile(p+".json", []byte(`{"width": 32, "colour": "yes"}`), 0o644)
	if _, err := backbone.Load(p, backbone.Options{}); err == nil || !strings.Contains(err.Error(), "sidecar") {
		t.Fatalf("bad sidecar: %v", err)
	}
}

func FuzzLoadBytes(f *testing.F) {
	for _, p := range []string{"testdata/tiny_gemm.onnx", "testdata/tiny_reshape_fp16.onnx"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)*2/3])
		f.Add(data[:40])
	}
	f.Add([]byte{0x08, 0x07})
	f.Add([]byte("not a model"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := backbone.LoadBytes(data, "fuzz.onnx", backbone.Options{})
		if err != nil {
			return
		}
		if _, err := b.FeatureModel(); err != nil {
			return
		}
		if _, err := b.ClassifierModel(); err != nil {
			return
		}
	})
}

func ExampleLoad() {
	b, err := backbone.Load("testdata/tiny_gemm.onnx", backbone.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println(b.FeatureNode, b.FeatureDim, b.Spec.Width)
	// Output: /Flatten_output_0 16 32
}

// The normalised graphs also run on the pure-Go engine (onnx-gomlx), which is stricter
// about IR-3 style inputs and float16.
func TestTinyGoMLX(t *testing.T) {
	t.Parallel()
	r := loadRef(t)
	for _, c := range []struct {
		file         string
		feats, logit []float32
	}{{"testdata/tiny_gemm.onnx", r.Features, r.Logits}, {"testdata/tiny_reshape_fp16.onnx", r.FeaturesFP16, r.LogitsFP16}} {
		b, err := backbone.Load(c.file, backbone.Options{Spec: tinySpec()})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []struct {
			name  string
			model func() ([]byte, error)
			want  []float32
		}{{"features", b.FeatureModel, c.feats}, {"logits", b.ClassifierModel, c.logit}} {
			data, err := m.model()
			if err != nil {
				t.Fatal(err)
			}
			e, err := gomlx.Open(data, gomlx.Options{})
			if err != nil {
				t.Fatalf("%s %s: %v", c.file, m.name, err)
			}
			got, err := e.Run(context.Background(), r.Input, 2)
			e.Close()
			if err != nil {
				t.Fatalf("%s %s: %v", c.file, m.name, err)
			}
			closeTo(t, c.file+" "+m.name, got, m.want, 1e-4)
		}
	}
}
