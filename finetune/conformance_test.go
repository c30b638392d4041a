package finetune

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/onnx-gomlx/onnx/parser"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/internal/backends"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// The gradient conformance suite: every op the trainer differentiates through, built as
// a small ONNX graph, rewritten by lowerConvs (and trainBatchNorms) exactly as NewNet does
// for each backend, imported by onnx-gomlx, and its value and gradients compared with
// PyTorch's (testdata/conformance.json, from testdata/make_conformance.py).

type confCase struct {
	Name  string `json:"name"`
	Nodes []struct {
		Op      string                     `json:"op"`
		Inputs  []string                   `json:"inputs"`
		Outputs []string                   `json:"outputs"`
		Attrs   map[string]json.RawMessage `json:"attrs"`
	} `json:"nodes"`
	TrainBN bool               `json:"train_bn"`
	Shapes  map[string][]int64 `json:"shapes"`
	Inputs  []struct {
		Name  string    `json:"name"`
		Shape []int     `json:"shape"`
		Data  []float32 `json:"data"`
		Grad  bool      `json:"grad"`
		Const bool      `json:"const"`
	} `json:"inputs"`
	OutShape []int64              `json:"out_shape"`
	Y        []float32            `json:"y"`
	R        []float32            `json:"r"`
	Loss     float64              `json:"loss"`
	Grads    map[string][]float32 `json:"grads"`
}

func loadConformance(t *testing.T) []confCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "conformance.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []confCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Cases
}

// model returns the case's ONNX graph (opset 13): trainable inputs as graph inputs,
// constants as Constant nodes.
func (c *confCase) model() ([]byte, error) {
	g := &protos.GraphProto{Name: c.Name}
	for _, in := range c.Inputs {
		dims := make([]int64, len(in.Shape))
		for i, d := range in.Shape {
			dims[i] = int64(d)
		}
		if in.Const {
			g.Node = append(g.Node, &protos.NodeProto{Name: in.Name, OpType: "Constant", Output: []string{in.Name},
				Attribute: []*protos.AttributeProto{{Name: "value", Type: protos.AttributeProto_TENSOR,
					T: &protos.TensorProto{Name: in.Name, Dims: dims, DataType: dtFloat, FloatData: in.Data}}}})
			continue
		}
		g.Input = append(g.Input, confValueInfo(in.Name, dims))
	}
	g.Output = append(g.Output, confValueInfo("y", c.OutShape))
	for k, n := range c.Nodes {
		node := &protos.NodeProto{Name: fmt.Sprintf("%s_%d", n.Op, k), OpType: n.Op, Input: n.Inputs, Output: n.Outputs}
		for name, raw := range n.Attrs {
			var a struct {
				Ints []int64  `json:"ints"`
				I    *int64   `json:"i"`
				F    *float32 `json:"f"`
			}
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, err
			}
			switch {
			case a.Ints != nil:
				node.Attribute = append(node.Attribute, &protos.AttributeProto{Name: name, Type: protos.AttributeProto_INTS, Ints: a.Ints})
			case a.I != nil:
				node.Attribute = append(node.Attribute, &protos.AttributeProto{Name: name, Type: protos.AttributeProto_INT, I: *a.I})
			case a.F != nil:
				node.Attribute = append(node.Attribute, &protos.AttributeProto{Name: name, Type: protos.AttributeProto_FLOAT, F: *a.F})
			}
		}
		g.Node = append(g.Node, node)
	}
	m := &protos.ModelProto{IrVersion: 8, OpsetImport: []*protos.OperatorSetIdProto{{Version: 13}}, Graph: g}
	return proto.Marshal(m)
}

func confValueInfo(name string, dims []int64) *protos.ValueInfoProto {
	var d []*protos.TensorShapeProto_Dimension
	for _, v := range dims {
		d = append(d, &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: v}})
	}
	return &protos.ValueInfoProto{Name: name, Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{TensorType: &protos.TypeProto_Tensor{
		ElemType: dtFloat, Shape: &protos.TensorShapeProto{Dim: d}}}}}
}

func (c *confCase) shape(name string) []int64 {
	if name == "y" {
		return c.OutShape
	}
	if s, ok := c.Shapes[name]; ok {
		return s
	}
	for _, in := range c.Inputs {
		if in.Name == name {
			s := make([]int64, len(in.Shape))
			for i, d := range in.Shape {
				s[i] = int64(d)
			}
			return s
		}
	}
	return nil
}

// run builds the case as the trainer would for lowering lw on backend be and returns
// y, the loss sum(y*r) and the gradients of the trainable inputs (in input order).
func (c *confCase) run(be compute.Backend, lw lowering) (y []float32, lossV float64, grads map[string][]float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	b, err := c.model()
	if err != nil {
		return nil, 0, nil, err
	}
	if b, _, err = lowerConvs(b, c.shape, lw); err != nil {
		return nil, 0, nil, err
	}
	var bns []bnTensors
	if c.TrainBN {
		if b, _, bns, err = trainBatchNorms(b, c.shape); err != nil {
			return nil, 0, nil, err
		}
	} else if b, _, err = foldBatchNorms(b, c.shape); err != nil {
		return nil, 0, nil, err
	}
	m, err := parser.Parse(b)
	if err != nil {
		return nil, 0, nil, err
	}
	var names []string
	var args []any
	for _, in := range c.Inputs {
		if !in.Const {
			names = append(names, in.Name)
			args = append(args, tensors.FromFlatDataAndDimensions(in.Data, in.Shape...))
		}
	}
	rs := make([]int, len(c.OutShape))
	for i, d := range c.OutShape {
		rs[i] = int(d)
	}
	args = append(args, tensors.FromFlatDataAndDimensions(c.R, rs...))
	exec, err := graph.NewExec(be, func(xs []*graph.Node) []*graph.Node {
		inputs := map[string]*graph.Node{}
		for i, n := range names {
			inputs[n] = xs[i]
		}
		outs, release := callTail(m, xs[0].Graph(), inputs, bns, "y")
		defer release()
		out := outs[0]
		l := graph.ReduceAllSum(graph.Mul(out, xs[len(xs)-1]))
		res := []*graph.Node{out, l}
		var wrt []*graph.Node
		for i, n := range names {
			if _, ok := c.Grads[n]; ok {
				wrt = append(wrt, xs[i])
			}
		}
		return append(res, graph.Gradient(l, wrt...)...)
	})
	if err != nil {
		return nil, 0, nil, err
	}
	defer exec.Finalize()
	outs, err := exec.Exec(args...)
	if err != nil {
		return nil, 0, nil, err
	}
	y = tensors.MustCopyFlatData[float32](outs[0])
	lossV = float64(tensors.ToScalar[float32](outs[1]))
	grads = map[string][]float32{}
	k := 2
	for _, n := range names {
		if _, ok := c.Grads[n]; ok {
			grads[n] = tensors.MustCopyFlatData[float32](outs[k])
			k++
		}
	}
	return y, lossV, grads, nil
}

// maxDiff returns the largest |a-b| / (1 + |b|).
func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i]))/(1+math.Abs(float64(b[i]))))
	}
	return d
}

// check compares a run with PyTorch's values.
func (c *confCase) check(y []float32, lossV float64, grads map[string][]float32) error {
	const tol = 2e-4
	if d := maxDiff(y, c.Y); d > tol {
		return fmt.Errorf("value differs from PyTorch by %.3g", d)
	}
	if d := math.Abs(lossV-c.Loss) / (1 + math.Abs(c.Loss)); d > tol {
		return fmt.Errorf("loss %v, PyTorch %v", lossV, c.Loss)
	}
	for n, want := range c.Grads {
		if d := maxDiff(grads[n], want); d > tol {
			return fmt.Errorf("gradient of %s differs from PyTorch by %.3g", n, d)
		}
	}
	return nil
}

type namedBackend struct {
	name string
	be   compute.Backend
}

// conformanceBackends: pure Go always, ONNX Runtime when its library is found (required
// with MULTILABEL_REQUIRE_ORT), XLA when a plugin is found.
func conformanceBackends(t *testing.T) []namedBackend {
	bs := []namedBackend{{"go", gobackend.GetBackend()}}
	if lib := sharedtest.FindORTLib(); lib != "" || os.Getenv("MULTILABEL_REQUIRE_ORT") != "" {
		c, err := backends.Select("onnx", backends.Options{ORTLib: sharedtest.ORTLib(t)})
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, namedBackend{"onnx", c.Backend})
	} else {
		t.Log("ONNX Runtime library not found: the onnx backend is not checked")
	}
	if backends.FindPJRTPlugin() != "" && backends.XLABuilt() {
		if c, err := backends.Select("xla", backends.Options{}); err == nil {
			bs = append(bs, namedBackend{"xla", c.Backend})
		} else {
			t.Logf("XLA plugin unusable: %v", err)
		}
	}
	return bs
}

func TestGradientConformance(t *testing.T) {
	cases := loadConformance(t)
	type variant struct {
		name   string
		be     compute.Backend
		lw     lowering
		perTap bool // convKernelGrad one MatMul per tap on every map size
		noHot  bool // convStridedGrads' kernel gradient through the NHWC Concat for any C
		noBN   bool // GoMLX's differentiation of the batch-norm rewrite, not bnVJP
		noPW   bool // 1×1 kernel gradients through transposed rows, not per image
		noFold bool // frozen batch norms as onnx-gomlx imports them, not foldBatchNorms
	}
	var vs []variant
	for _, nb := range conformanceBackends(t) {
		lw := loweringFor(nb.be)
		vs = append(vs, variant{nb.name, nb.be, lw, false, false, false, false, false})
		// Frozen batch norms unfolded, on every backend.
		vs = append(vs, variant{nb.name + "-noFoldBN", nb.be, lw, false, false, false, false, true})
		if lw.phases {
			// The alternative lowering BenchmarkStepTail can measure: native stride-1 convs.
			lw.native1 = !lw.native1
			vs = append(vs, variant{nb.name + fmt.Sprintf("-native1=%v", lw.native1), nb.be, lw, false, false, false, false, false})
			// And the other max pooling: native with maxPoolGradScatter, or the taps' maximum.
			lw = loweringFor(nb.be)
			lw.nativePools = !lw.nativePools
			vs = append(vs, variant{nb.name + fmt.Sprintf("-nativePools=%v", lw.nativePools), nb.be, lw, false, false, false, false, false})
			lw = loweringFor(nb.be)
			lw.nativeStrided = !lw.nativeStrided
			vs = append(vs, variant{nb.name + fmt.Sprintf("-nativeStrided=%v", lw.nativeStrided), nb.be, lw, false, false, false, false, false})
			lw = loweringFor(nb.be)
			lw.nativeDepthwise = !lw.nativeDepthwise
			vs = append(vs, variant{nb.name + fmt.Sprintf("-nativeDepthwise=%v", lw.nativeDepthwise), nb.be, lw, false, false, false, false, false})
			// The kernel gradient per tap, which only larger maps than these cases' take.
			vs = append(vs, variant{nb.name + "-perTap", nb.be, loweringFor(nb.be), true, false, false, false, false})
			// The strided kernel gradient's Concat, which these cases' few channels skip.
			vs = append(vs, variant{nb.name + "-noOneHot", nb.be, loweringFor(nb.be), false, true, false, false, false})
			// The batch norms' gradient as GoMLX differentiates the rewrite (bnVJP off).
			vs = append(vs, variant{nb.name + "-noBNGrad", nb.be, loweringFor(nb.be), false, false, true, false, false})
			// 1×1 kernel gradients as one MatMul of transposed rows (small maps' path).
			vs = append(vs, variant{nb.name + "-noBatchedPW", nb.be, loweringFor(nb.be), false, false, false, true, false})
		}
	}
	defPerTap, defHot, defBN, defPW, defFold := perTapMinPositions, oneHotMaxChannels, onnxBNGrad, batchedPointwise, foldFrozenBN
	defer func() {
		perTapMinPositions, oneHotMaxChannels, onnxBNGrad, batchedPointwise, foldFrozenBN = defPerTap, defHot, defBN, defPW, defFold
	}()
	for _, nb := range vs {
		lw := nb.lw
		for i := range cases {
			c := &cases[i]
			t.Run(nb.name+"/"+c.Name, func(t *testing.T) {
				perTapMinPositions, oneHotMaxChannels, onnxBNGrad = defPerTap, defHot, defBN && !nb.noBN
				batchedPointwise = defPW && !nb.noPW
				foldFrozenBN = defFold && !nb.noFold
				if nb.perTap {
					perTapMinPositions = 0
				}
				if nb.noHot {
					oneHotMaxChannels = 0
				}
				y, l, g, err := c.run(nb.be, lw)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.check(y, l, g); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestONNXGaps confirms each gap of compute-onnx v0.1.13 that the onnx lowering works
// around: the same case built without the workaround fails to build or gives a wrong
// gradient there (and passes with loweringFor, in TestGradientConformance). When a gap
// closes upstream this test fails, saying which workaround may go.
func TestONNXGaps(t *testing.T) {
	lib := sharedtest.ORTLib(t)
	c, err := backends.Select("onnx", backends.Options{ORTLib: lib})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]*confCase{}
	all := loadConformance(t)
	for i := range all {
		cases[all[i].Name] = &all[i]
	}
	// GoMLX's own max-pool gradient (SelectAndScatter), not maxPoolGrad.
	defer func(old bool) { onnxPoolGrad = old }(onnxPoolGrad)
	onnxPoolGrad = false
	// And GoMLX's own convolution gradients, not convStridedGrads / convKernelGrad.
	defer func(old bool) { onnxConvGrad = old }(onnxConvGrad)
	onnxConvGrad = false
	native := lowering{}            // ops as imported: GoMLX's own gradients
	im2col := lowering{convs: true} // the pure-Go lowering: strided Slice taps
	for _, gap := range []struct {
		what, cas string
		lw        lowering
	}{
		{"stride-2 Conv: ConvGeneral with input dilation refused", "conv3x3_s2", native},
		{"stride-2 depthwise Conv: ConvGeneral with input dilation refused", "conv3x3_depthwise_s2_p1", native},
		{"stride-2 1x1 Conv: ConvGeneral with input dilation refused", "conv1x1_s2", native},
		{"stride-2 im2col by strided Slice: gradient needs interior padding", "conv3x3_s2", im2col},
		{"overlapping MaxPool 3x3/2: SelectAndScatter without reduction=add", "maxpool_3x3_s2_overlap", native},
		{"overlapping MaxPool 3x3/2 with end padding (SqueezeNet's ceil mode)", "maxpool_3x3_s2_pad_end", native},
		{"overlapping MaxPool 3x3/1", "maxpool_3x3_s1_p1", native},
		{"strided AveragePool: gradient needs interior padding", "avgpool_3x3_s2_p1", native},
		{"non-overlapping AveragePool 2x2/2: gradient needs interior padding", "avgpool_2x2_s2", native},
	} {
		t.Run(gap.cas, func(t *testing.T) {
			y, l, g, err := cases[gap.cas].run(c.Backend, gap.lw)
			if err == nil {
				err = cases[gap.cas].check(y, l, g)
			}
			if err == nil {
				t.Fatalf("gap closed? %s: now builds and matches PyTorch on compute-onnx; its workaround in lower_taps.go may be dropped", gap.what)
			}
			t.Logf("%s: confirmed: %.300v", gap.what, err)
		})
	}
}

// TestONNXLoweringRefuses: on ONNX Runtime an op that cannot be lowered to correctly
// differentiated ops is an error naming it, never a silently wrong gradient.
func TestONNXLoweringRefuses(t *testing.T) {
	for _, c := range loadConformance(t) {
		if c.Name != "maxpool_3x3_s2_overlap" && c.Name != "conv3x3_s2" {
			continue
		}
		b, err := c.model()
		if err != nil {
			t.Fatal(err)
		}
		noShapes := func(string) []int64 { return nil }
		// (With nativeStrided a strided Conv stays native and needs no shapes.)
		lw := loweringForName("onnxruntime")
		lw.nativeStrided = false
		_, _, err = lowerConvs(b, noShapes, lw)
		if !errors.Is(err, ErrNoGradient) || !strings.Contains(err.Error(), c.Nodes[0].Op) {
			t.Errorf("%s without shapes on onnx: want ErrNoGradient naming %s, got %v", c.Name, c.Nodes[0].Op, err)
		}
		if _, _, err := lowerConvs(b, noShapes, loweringForName("go")); err != nil {
			t.Errorf("%s on go: %v", c.Name, err)
		}
	}
}
