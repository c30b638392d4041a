package model

import (
	"image"
	"image/color"
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/imageio"
	"google.golang.org/protobuf/proto"
)

// tinyBackbone is an ONNX graph [N,3,8,8] → GlobalAveragePool → Flatten → [N,3]: the
// features are the per-channel means of the preprocessed image, so predictions can be
// worked out by hand.
func tinyBackbone() []byte {
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
		panic(err)
	}
	return b
}

func tinySpec() imageio.Spec {
	return imageio.Spec{Width: 8, Height: 8, Resize: imageio.ResizeSquish, ChannelOrder: "RGB", Scale: 1, Layout: "NCHW"}
}

// tinyBundle predicts "red", "green", "blue" from the channel means: logit_j = 8·mean_j − 4.
func tinyBundle() *Bundle {
	h := &head.Params{Kind: head.Linear, In: 3, Out: 3,
		W1: []float32{8, 0, 0, 0, 8, 0, 0, 0, 8}, B1: []float32{-4, -4, -4}}
	return &Bundle{
		Backbone:     tinyBackbone(),
		BackboneInfo: BackboneInfo{Name: "tiny", FeatureDim: 3},
		Head:         *h,
		Labels:       []string{"red", "green", "blue"},
		Thresholds:   []float64{0.5, 0.5, 0.5},
		Spec:         tinySpec(),
		Training:     []byte(`{"config":{"loss":"bce"}}`),
		Metrics:      []byte(`{"test":{"mAP":1}}`),
	}
}

func solid(c color.Color, w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

func mustSave(t testing.TB, b *Bundle, path string) {
	t.Helper()
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
}
