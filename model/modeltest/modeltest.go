// Package modeltest builds a tiny, hand-checkable model bundle for tests of packages
// that use model (the CLI, serve, export): an ONNX backbone [N,3,8,8] →
// GlobalAveragePool → Flatten → [N,3] (the features are the channel means of the
// preprocessed image, values 0..1) and a linear head with logit_j = 8·mean_j − 4 over
// the labels "red", "green", "blue". A saturated red image is predicted "red" with
// probability sigmoid(4) ≈ 0.982, a black one nothing.
package modeltest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/imageio"
)

// Backbone returns the tiny ONNX feature graph.
func Backbone() []byte {
	dim := func(v int64, p string) *protos.TensorShapeProto_Dimension {
		if p != "" {
			return &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimParam{DimParam: p}}
		}
		return &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: v}}
	}
	vi := func(name string, dims ...*protos.TensorShapeProto_Dimension) *protos.ValueInfoProto {
		return &protos.ValueInfoProto{Name: name, Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{
			TensorType: &protos.TypeProto_Tensor{ElemType: int32(protos.TensorProto_FLOAT), Shape: &protos.TensorShapeProto{Dim: dims}}}}}
	}
	m := &protos.ModelProto{
		IrVersion:   8,
		OpsetImport: []*protos.OperatorSetIdProto{{Domain: "", Version: 13}},
		Graph: &protos.GraphProto{
			Name: "tiny",
			Node: []*protos.NodeProto{
				{OpType: "GlobalAveragePool", Input: []string{"x"}, Output: []string{"p"}, Name: "gap"},
				{OpType: "Flatten", Input: []string{"p"}, Output: []string{"y"}, Name: "flat"},
			},
			Input:  []*protos.ValueInfoProto{vi("x", dim(0, "N"), dim(3, ""), dim(8, ""), dim(8, ""))},
			Output: []*protos.ValueInfoProto{vi("y", dim(0, "N"), dim(3, ""))},
		},
	}
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err) // a fixed, valid message: cannot happen
	}
	return b
}

// Spec is the tiny backbone's preprocessing: 8×8 squish, RGB, values 0..1, NCHW.
func Spec() imageio.Spec {
	return imageio.Spec{Width: 8, Height: 8, Resize: imageio.ResizeSquish, ChannelOrder: "RGB", Scale: 1, Layout: "NCHW"}
}

// Bundle returns the tiny bundle (not saved; call Save).
func Bundle() *bundle.Bundle {
	return &bundle.Bundle{
		Backbone:     Backbone(),
		BackboneInfo: bundle.BackboneInfo{Name: "tiny", FeatureDim: 3},
		Head: head.Params{Kind: head.Linear, In: 3, Out: 3,
			W1: []float32{8, 0, 0, 0, 8, 0, 0, 0, 8}, B1: []float32{-4, -4, -4}},
		Labels:     []string{"red", "green", "blue"},
		Thresholds: []float64{0.5, 0.5, 0.5},
		Spec:       Spec(),
		Training:   []byte(`{"config":{"loss":"bce"}}`),
		Metrics:    []byte(`{"test":{"mAP":1}}`),
	}
}

// WriteDataset writes a small training set for the tiny backbone into dir: n solid-colour
// PNG images whose labels are the colour channels that are on (seeded), a one-hot
// labels.csv, and the backbone as tiny.onnx with its preprocessing in tiny.json. It
// returns the label file and backbone paths.
func WriteDataset(dir string, n int, seed uint64) (labels, backbone string, err error) {
	backbone = filepath.Join(dir, "tiny.onnx")
	if err := os.WriteFile(backbone, Backbone(), 0o644); err != nil {
		return "", "", err
	}
	spec, err := json.Marshal(Spec())
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "tiny.json"), spec, 0o644); err != nil {
		return "", "", err
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	var csv strings.Builder
	csv.WriteString("image,red,green,blue\n")
	for i := range n {
		on := [3]int{rng.IntN(2), rng.IntN(2), rng.IntN(2)}
		c := color.RGBA{uint8(40 + 200*on[0]), uint8(30 + 200*on[1]), uint8(20 + 200*on[2]), 255}
		name := fmt.Sprintf("img%03d.png", i)
		img := Solid(c, 16, 12)
		// One pixel, at a place of its own, a shade off: every file has its own bytes,
		// as photos do (train rejects an image found in two splits).
		d := uint8(3 + i/192)
		img.Set(i%16, (i/16)%12, color.RGBA{c.R + d, c.G + d, c.B + d, 255})
		if err := WritePNG(filepath.Join(dir, name), img); err != nil {
			return "", "", err
		}
		fmt.Fprintf(&csv, "%s,%d,%d,%d\n", name, on[0], on[1], on[2])
	}
	labels = filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(labels, []byte(csv.String()), 0o644); err != nil {
		return "", "", err
	}
	return labels, backbone, nil
}

// Solid returns a w×h image of one colour.
func Solid(c color.Color, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

// WritePNG encodes img to path.
func WritePNG(path string, img image.Image) error {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
