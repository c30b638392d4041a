package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/model/modeltest"
)

// TestHugeVocabularyExit2: a CSV with 1M label columns and a COCO file with 1M categories
// (once an OOM kill and a Go "fatal error: out of memory") exit 2 naming the bound;
// --max-labels lowers it.
func TestHugeVocabularyExit2(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("image")
	for i := range 1_000_000 {
		fmt.Fprintf(&b, ",%x", i)
	}
	b.WriteString("\na.jpg" + strings.Repeat(",0", 1_000_000) + "\n")
	csvPath := filepath.Join(dir, "wide.csv")
	if err := os.WriteFile(csvPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	b.WriteString(`{"images":[{"id":1,"file_name":"a.jpg"}],"annotations":[],"categories":[`)
	for i := range 1_000_000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"%x"}`, i, i)
	}
	b.WriteString("]}")
	cocoPath := filepath.Join(dir, "instances_x.json")
	if err := os.WriteFile(cocoPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small.csv")
	if err := os.WriteFile(small, []byte("image,a,b,c\na.jpg,1,0,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"dataset", "inspect", "--data", csvPath}, "more than the maximum 100000"},
		{[]string{"dataset", "inspect", "--data", cocoPath}, "more than the maximum 100000"},
		{[]string{"dataset", "inspect", "--data", small, "--max-labels", "2"}, "more than the maximum 2"},
	} {
		code, _, stderr := runCLIErr(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, want %d with %q", c.args, code, exitUsage, c.want)
		}
	}
}

// TestHostileBackboneExit2: an ONNX graph with a cycle (once "fatal error: stack
// overflow" on the pure-Go engine) or a huge declared tensor exits 2.
func TestHostileBackboneExit2(t *testing.T) {
	t.Parallel()
	dim := func(v int64) *protos.TensorShapeProto_Dimension {
		return &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: v}}
	}
	vi := func(name string, d ...int64) *protos.ValueInfoProto {
		var dims []*protos.TensorShapeProto_Dimension
		for _, v := range d {
			dims = append(dims, dim(v))
		}
		return &protos.ValueInfoProto{Name: name, Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{
			TensorType: &protos.TypeProto_Tensor{ElemType: int32(protos.TensorProto_FLOAT), Shape: &protos.TensorShapeProto{Dim: dims}}}}}
	}
	m := &protos.ModelProto{IrVersion: 8, OpsetImport: []*protos.OperatorSetIdProto{{Version: 13}},
		Graph: &protos.GraphProto{
			Node: []*protos.NodeProto{
				{OpType: "Add", Input: []string{"x", "b"}, Output: []string{"a"}},
				{OpType: "Relu", Input: []string{"a"}, Output: []string{"b"}},
				{OpType: "GlobalAveragePool", Input: []string{"b"}, Output: []string{"y"}},
			},
			Input:  []*protos.ValueInfoProto{vi("x", 1, 3, 8, 8)},
			Output: []*protos.ValueInfoProto{vi("y", 1, 3, 1, 1)},
		}}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cycle.onnx")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLIErr(t, "backbone", "inspect", p)
	if code != exitUsage || !strings.Contains(stderr, "cycle") {
		t.Errorf("backbone inspect of a cyclic graph: exit %d, want %d with \"cycle\"", code, exitUsage)
	}

	// A declared 10^12-element weight (once "fatal error: out of memory", 131 TB asked
	// for) is refused from its declaration, before anything is allocated.
	m.Graph.Node = []*protos.NodeProto{
		{OpType: "Add", Input: []string{"x", "w"}, Output: []string{"a"}},
		{OpType: "GlobalAveragePool", Input: []string{"a"}, Output: []string{"y"}},
	}
	m.Graph.Initializer = []*protos.TensorProto{{Name: "w", DataType: int32(protos.TensorProto_FLOAT), Dims: []int64{1_000_000, 1_000_000}}}
	if data, err = proto.Marshal(m); err != nil {
		t.Fatal(err)
	}
	p = filepath.Join(t.TempDir(), "huge.onnx")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLIErr(t, "backbone", "inspect", p)
	if code != exitUsage || !strings.Contains(stderr, "over the") || strings.Contains(stderr, "fatal error") {
		t.Errorf("backbone inspect of a 10^12-element weight: exit %d, %s; want %d refusing the declared size", code, stderr, exitUsage)
	}
}

// TestLabelFileOutsideImages: a label file naming a file outside the images directory is
// refused (exit 2) unless --allow-outside; then the file is reported as not an image
// without any of its content.
func TestLabelFileOutsideImages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root:$6$TOPSECRETHASH:19000:0:99999:7:::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	labels := filepath.Join(dir, "l.csv")
	if err := os.WriteFile(labels, []byte("image,labels\n"+secret+",cat\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLIErr(t, "dataset", "inspect", "--data", labels)
	if code != exitUsage || !strings.Contains(stderr, "outside the images directory") {
		t.Errorf("outside reference: exit %d, want %d", code, exitUsage)
	}
	code, stdout, stderr := runCLIErr(t, "dataset", "inspect", "--data", labels, "--allow-outside", "--json")
	if code != exitOK {
		t.Errorf("--allow-outside: exit %d", code)
	}
	if strings.Contains(stdout+stderr, "TOPSECRET") || strings.Contains(stdout+stderr, "root:") {
		t.Errorf("the file's content was echoed:\n%s%s", stdout, stderr)
	}
}

// TestHostileBundleExit2: a bundle whose backbone graph has a cycle (once "fatal error:
// stack overflow" on the pure-Go engine, exit 1 on ONNX Runtime) exits 2 on both engines.
func TestHostileBundleExit2(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := modeltest.Bundle()
	var m protos.ModelProto
	if err := proto.Unmarshal(b.Backbone, &m); err != nil {
		t.Fatal(err)
	}
	g := m.Graph
	g.Node[0].Input[0] = g.Node[len(g.Node)-1].Output[0]
	var err error
	if b.Backbone, err = proto.Marshal(&m); err != nil {
		t.Fatal(err)
	}
	mlb := filepath.Join(dir, "cycle.mlb")
	if err := b.Save(mlb); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "a.png")
	writePNG(t, img)
	engines := []string{"go"}
	if os.Getenv("ONNXRUNTIME_LIB") != "" {
		engines = append(engines, "ort")
	}
	for _, eng := range engines {
		code, _, stderr := runCLIErr(t, "predict", "--model", mlb, "--engine", eng, img)
		if code != exitUsage || !strings.Contains(stderr, "cycle") {
			t.Errorf("--engine %s: exit %d, want %d with \"cycle\"", eng, code, exitUsage)
		}
	}
}

func writePNG(t *testing.T, path string) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
