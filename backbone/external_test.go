package backbone

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/internal/onnxcheck"
)

// externalModel reads tiny_gemm.onnx and moves its first float initializer's data to
// the external file loc (relative to the model), writing the data at dir/dataPath.
func externalModel(t *testing.T, dir, loc, dataPath string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "tiny_gemm.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var m protos.ModelProto
	if err := proto.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var w *protos.TensorProto
	for _, in := range m.Graph.Initializer {
		if in.DataType == int32(protos.TensorProto_FLOAT) && len(in.Dims) > 0 {
			w = in
			break
		}
	}
	if w == nil {
		t.Fatal("no float initializer")
	}
	data := w.RawData
	if data == nil {
		for _, f := range w.FloatData {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(f))
		}
	}
	if dataPath != "" {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, dataPath)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dataPath), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.RawData, w.FloatData = nil, nil
	w.DataLocation = protos.TensorProto_EXTERNAL
	w.ExternalData = []*protos.StringStringEntryProto{{Key: "location", Value: loc}}
	out, err := proto.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "model", "m.onnx")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExternalDataEmbedded: external data beside the model is read and embedded, so
// the feature graph (and so the bundle) holds it; locations leaving the model's
// directory (once "../../../../etc/passwd" was accepted and kept as a reference) are
// refused with bad-input errors.
func TestExternalDataEmbedded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := externalModel(t, dir, "weights.bin", "model/weights.bin")
	b, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Load(filepath.Join("testdata", "tiny_gemm.onnx"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := b.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	var m protos.ModelProto
	if err := proto.Unmarshal(g, &m); err != nil {
		t.Fatal(err)
	}
	if refs := onnxcheck.ExternalRefs(&m); len(refs) != 0 {
		t.Errorf("feature graph still references %v", refs)
	}
	if err := onnxcheck.Check(&m, onnxcheck.Limits{}); err != nil {
		t.Errorf("feature graph: %v", err)
	}
	if b.Params != ref.Params || b.FeatureDim != ref.FeatureDim {
		t.Errorf("params %d dim %d, without external data %d %d", b.Params, b.FeatureDim, ref.Params, ref.FeatureDim)
	}

	outside := filepath.Join(dir, "secret.bin")
	if err := os.WriteFile(outside, make([]byte, 1<<16), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "linkdir")
	os.MkdirAll(link, 0o755)
	symlinkOK := os.Symlink(outside, filepath.Join(dir, "model", "link.bin")) == nil
	cases := map[string]string{
		"traversal": "../../../../etc/passwd",
		"climb":     "sub/../../secret.bin",
		"absolute":  outside,
		"missing":   "nope.bin",
	}
	if symlinkOK {
		cases["symlink out"] = "link.bin"
	}
	for name, loc := range cases {
		t.Run(name, func(t *testing.T) {
			d := t.TempDir()
			p := externalModel(t, d, loc, "")
			if name == "symlink out" {
				os.Symlink(outside, filepath.Join(d, "model", "link.bin"))
			}
			_, err := Load(p, Options{})
			if !errors.Is(err, ErrExternalData) || !errkind.IsBadInput(err) {
				t.Fatalf("Load = %v, want ErrExternalData", err)
			}
		})
	}
	// Bytes without a directory: refused.
	raw, _ := os.ReadFile(p)
	if _, err := LoadBytes(raw, "m.onnx", Options{}); !errors.Is(err, ErrExternalData) || !strings.Contains(err.Error(), "directory") {
		t.Errorf("LoadBytes = %v", err)
	}
}
