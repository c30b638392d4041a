// Package backbone loads pretrained ONNX image classifiers and turns them into feature
// extractors for transfer learning.
//
// Load reads any ONNX classifier (opsets 7–21) and normalises it: float16 weights,
// inputs, outputs and Cast-to-float16 ops become float32; a batch dimension fixed to 1
// becomes dynamic (Reshape constants that hard-code that batch are rewritten to copy it);
// initializers listed among the graph inputs (IR version 3 models) are removed from the
// inputs; value_info annotations are dropped (they would pin the old batch size and
// types, and every runtime re-infers them).
//
// The feature node is found automatically (Options.FeatureNode overrides): walking back
// from the first graph output through softmax/activation/pooling/reshape ops to the
// final classifier, the features are the classifier's data input — the input of the last
// Gemm or MatMul (usually a Flatten output), or, for a final 1×1 Conv classifier as in
// SqueezeNet, the activation map feeding it (Dropout and Identity are skipped). A 4-D cut
// gets a global pooling appended (Options.Pool: average by default — GlobalAveragePool
// and Flatten —, max, or both concatenated), so FeatureModel always maps [N,3,H,W] (or
// [N,H,W,3]) to [N,FeatureDim]; SpatialModel keeps the map itself, flattened to
// [N,C·H·W]. A graph without a recognisable classifier
// is taken as a feature extractor already: its first output is the cut.
//
// Preprocessing (an imageio.Spec) travels with the backbone, chosen in this order:
// Options.Spec; a sidecar JSON file (FILE.json beside FILE, or FILE with its extension
// replaced by .json) holding an imageio.Spec; a built-in entry recognised by the file's
// sha256 or zoo file name (the zoo and the shared SqueezeNet 1.1 fp16); otherwise a
// default: torchvision's ImageNet convention (RGB, 0..1, ImageNet mean/std, shorter side
// 256 then centre crop) at the input's fixed size (224×224 when the size is dynamic),
// in the input's layout (NHWC when its last dimension is 3, else NCHW). The chosen source
// is reported in Backbone.SpecSource.
package backbone

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/onnxcheck"
)

// Supported opset range of the default ONNX domain.
const (
	MinOpset = 7
	MaxOpset = 21
)

// Errors wrapped (with the file name) by Load. Each matches errkind.ErrBadInput.
var (
	ErrNotONNX   = errkind.Sentinel("not an ONNX model", errkind.ErrBadInput)
	ErrTruncated = errkind.Sentinel("truncated or corrupt ONNX file", errkind.ErrBadInput)
	ErrNoFeature = errkind.Sentinel("feature node not found", errkind.ErrBadInput)
)

// Options configure Load.
type Options struct {
	// FeatureNode names the tensor (or the node, whose first output is then used) where
	// the graph is cut; "" finds it automatically.
	FeatureNode string
	// Spec overrides the preprocessing; nil looks for a sidecar, a built-in entry, then
	// the default (see the package documentation). A spec (or sidecar) may set another
	// height and width than the file's fixed input: the input is then rewritten to that
	// size, for fully convolutional backbones (the cut must keep a known shape).
	Spec *imageio.Spec
	// Pool is how a spatial cut is pooled into the feature vector: PoolAvg (the default,
	// also for ""), PoolMax or PoolAvgMax; see ParsePool. Asking for max or avgmax on a
	// cut without spatial dimensions is an error (ErrNoFeature).
	Pool string
	// InputWidth and InputHeight, when both > 0, replace the resolved preprocessing's
	// size: the whole image is resized (squished) to InputWidth×InputHeight, the rest of
	// the spec (channels, mean, std, layout) kept, and the input rewritten to that size
	// as for a Spec of another size. SqueezeNet-like backbones end in a global pooling
	// and take any size from about 32×32 up.
	InputWidth, InputHeight int
}

// Candidate is a tensor near the end of the graph that could serve as the feature node.
type Candidate struct {
	Tensor string  `json:"tensor"`
	Op     string  `json:"op"`              // the op producing it
	Shape  []int64 `json:"shape,omitempty"` // batch dimension reported as -1; nil when unknown
	Dim    int     `json:"dim"`             // feature dimension after pooling; 0 when unknown
	Chosen bool    `json:"chosen,omitempty"`
}

// Backbone is a loaded, normalised (float32, dynamic batch) ONNX classifier together with
// its feature cut and preprocessing.
type Backbone struct {
	Path        string
	SHA256      string
	FeatureNode string // tensor name of the cut
	FeatureDim  int    // D of FeatureModel's [N,D] output; 0 when shape inference failed
	Pooled      bool   // FeatureModel appends a global pooling (the cut is a 4-D map)
	Pool        string // that pooling (PoolAvg, PoolMax, PoolAvgMax) when Pooled; "" otherwise
	Reason      string // why this cut was chosen
	Spec        imageio.Spec
	SpecSource  string // "options", "sidecar PATH", "builtin NAME", "default"
	// Resized reports that the spec's height and width differ from the ONNX file's
	// fixed input size and the input was rewritten to the spec's (see Options.Spec).
	Resized bool

	Input       string  // the image input's name
	InputShape  []int64 // per sample, e.g. [3,224,224]
	Outputs     []string
	IRVersion   int64
	Opset       int64
	Producer    string
	Params      int64    // number of float weights
	Conversions []string // what normalisation changed, human readable
	Candidates  []Candidate

	model     *protos.ModelProto
	shapes    map[string][]int64
	fileShape []int64 // the file's per-sample input shape when Resized
}

// Load reads and normalises the ONNX model at path; see the package documentation.
func Load(path string, opt Options) (*Backbone, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("backbone: %w", err)
	}
	b, err := parse(data, opt, path)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", path, err)
	}
	return b, nil
}

// LoadBytes is Load for an in-memory model; name is used in messages and for the
// sidecar lookup is skipped.
func LoadBytes(data []byte, name string, opt Options) (*Backbone, error) {
	b, err := parse(data, opt, "")
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", name, err)
	}
	b.Path = name
	return b, nil
}

func parse(data []byte, opt Options, path string) (b *Backbone, err error) {
	defer func() {
		// Malformed graphs must give errors, never crash the caller.
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("%w: malformed graph: %v", ErrNotONNX, r)
		}
	}()
	sum := sha256.Sum256(data)
	b = &Backbone{Path: path, SHA256: hex.EncodeToString(sum[:])}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrNotONNX)
	}
	m := &protos.ModelProto{}
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, m); err != nil {
		// A ModelProto starts with ir_version (field 1, varint: byte 0x08) in every
		// exporter we know; a file that starts so but fails to parse is cut short.
		if data[0] == 0x08 {
			return nil, fmt.Errorf("%w (%d bytes): %v", ErrTruncated, len(data), err)
		}
		return nil, fmt.Errorf("%w: %v", ErrNotONNX, err)
	}
	if m.IrVersion <= 0 || m.Graph == nil || len(m.Graph.Node) == 0 {
		if data[0] == 0x08 && m.IrVersion > 0 {
			return nil, fmt.Errorf("%w: no graph (%d bytes)", ErrTruncated, len(data))
		}
		return nil, fmt.Errorf("%w: no ir_version or graph", ErrNotONNX)
	}
	// Cycles, declared-only huge tensors and overflowing dimensions are refused before
	// any walk over the graph (external data is resolved by the caller that knows the
	// model's directory).
	if err := onnxcheck.Check(m, onnxcheck.Limits{AllowExternal: true}); err != nil {
		return nil, err
	}
	// External tensor data is read now, from inside the model's directory only, and
	// embedded: what is built from the backbone (feature graphs, bundles) holds it all.
	dir := ""
	if path != "" {
		dir = filepath.Dir(path)
	}
	nExt, err := embedExternal(m, dir)
	if err != nil {
		return nil, err
	}
	b.model = m
	b.IRVersion = m.IrVersion
	b.Producer = m.ProducerName
	for _, os := range m.OpsetImport {
		if os.Domain == "" || os.Domain == "ai.onnx" {
			b.Opset = os.Version
		}
	}
	if b.Opset == 0 && m.IrVersion < 3 {
		b.Opset = 1
	}
	if b.Opset < MinOpset {
		return nil, fmt.Errorf("opset %d is older than the supported %d–%d (re-export the model with a newer opset)", b.Opset, MinOpset, MaxOpset)
	}
	if b.Opset > MaxOpset {
		slog.Warn("backbone: opset newer than tested", "file", path, "opset", b.Opset, "tested", fmt.Sprintf("%d–%d", MinOpset, MaxOpset))
	}
	if err := b.normalise(); err != nil {
		return nil, err
	}
	if nExt > 0 {
		b.Conversions = append(b.Conversions, fmt.Sprintf("embedded the external data of %d tensors", nExt))
	}
	if err := b.chooseSpec(opt, path); err != nil {
		return nil, err
	}
	feat, zooFeat := opt.FeatureNode, false
	if feat == "" {
		if e := lookupBuiltin(b.SHA256, filepath.Base(path)); e != nil && e.FeatureNode != "" {
			feat, zooFeat = e.FeatureNode, true
		}
	}
	if err := b.findFeature(feat); err != nil {
		return nil, err
	}
	if b.Resized {
		if err := b.checkResizedCut(); err != nil {
			return nil, err
		}
	}
	if err := b.applyPool(opt.Pool); err != nil {
		return nil, err
	}
	if zooFeat {
		b.Reason = strings.Replace(b.Reason, "chosen by the user", "recorded in the zoo", 1)
	}
	return b, nil
}

// normalise converts to float32, strips initializer inputs and makes the batch dynamic.
func (b *Backbone) normalise() error {
	g := b.model.Graph
	for _, t := range g.Initializer {
		if t.DataType == dtFloat || t.DataType == dtFloat16 || t.DataType == int32(protos.TensorProto_DOUBLE) {
			b.Params += elemCount(t)
		}
	}
	if n := stripInitializerInputs(g); n > 0 {
		b.Conversions = append(b.Conversions, fmt.Sprintf("removed %d initializers from the graph inputs", n))
	}
	c, err := convertGraphFP16(g)
	if err != nil {
		return err
	}
	if c > 0 {
		b.Conversions = append(b.Conversions, fmt.Sprintf("float16 -> float32 (%d tensors/types/casts)", c))
	}
	if len(g.Input) != 1 {
		names := make([]string, len(g.Input))
		for i, in := range g.Input {
			names[i] = in.Name
		}
		return fmt.Errorf("the graph has %d inputs %v; an image classifier has exactly one", len(g.Input), names)
	}
	if len(g.Output) == 0 {
		return errors.New("the graph has no outputs")
	}
	in := g.Input[0]
	b.Input = in.Name
	if tt := in.GetType().GetTensorType(); tt == nil || tt.ElemType != dtFloat {
		return fmt.Errorf("input %q is not a float tensor", in.Name)
	}
	d, ok := dims(in)
	if !ok || len(d) != 4 {
		return fmt.Errorf("input %q has shape %v; want 4 dimensions [N,C,H,W] or [N,H,W,C]", in.Name, d)
	}
	b.InputShape = d[1:]
	wasFixed := setBatchDynamic(in)
	for _, o := range g.Output {
		b.Outputs = append(b.Outputs, o.Name)
		if tt := o.GetType().GetTensorType(); tt != nil {
			setBatchDynamic(o)
		}
	}
	if wasFixed {
		msg := "batch 1 -> dynamic"
		if n := fixReshapeBatch(g); n > 0 {
			msg += fmt.Sprintf(" (%d Reshape constants rewritten)", n)
		}
		b.Conversions = append(b.Conversions, msg)
	}
	if len(g.ValueInfo) > 0 {
		g.ValueInfo = nil
	}
	return nil
}

// chooseSpec picks the preprocessing and checks it against the input shape.
func (b *Backbone) chooseSpec(opt Options, path string) error {
	switch {
	case opt.Spec != nil:
		b.Spec, b.SpecSource = *opt.Spec, "options"
	default:
		found := false
		if path != "" {
			for _, side := range sidecarPaths(path) {
				data, err := os.ReadFile(side)
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				if err != nil {
					return fmt.Errorf("sidecar: %w", err)
				}
				s, err := ParseSpec(data)
				if err != nil {
					return fmt.Errorf("sidecar %s: %w", side, err)
				}
				b.Spec, b.SpecSource, found = s, "sidecar "+side, true
				break
			}
		}
		if !found {
			if e := lookupBuiltin(b.SHA256, filepath.Base(path)); e != nil && e.Spec != nil {
				b.Spec, b.SpecSource, found = *e.Spec, "builtin "+e.Name, true
			}
		}
		if !found {
			b.Spec, b.SpecSource = b.defaultSpec(), "default"
		}
	}
	if opt.InputWidth != 0 || opt.InputHeight != 0 {
		if opt.InputWidth <= 0 || opt.InputHeight <= 0 || opt.InputWidth > 8192 || opt.InputHeight > 8192 {
			return fmt.Errorf("input size %dx%d: want width and height in 1..8192", opt.InputWidth, opt.InputHeight)
		}
		b.Spec.Width, b.Spec.Height = opt.InputWidth, opt.InputHeight
		b.Spec.Resize, b.Spec.ResizeShorter = imageio.ResizeSquish, 0
		b.SpecSource = fmt.Sprintf("%s, input size %dx%d", b.SpecSource, opt.InputWidth, opt.InputHeight)
	}
	if err := b.Spec.Validate(); err != nil {
		return fmt.Errorf("%s: %w", b.SpecSource, err)
	}
	// The spec must match fixed input dimensions, except that a chosen spec (options or
	// sidecar) may give another height and width: the input's spatial dimensions are
	// then rewritten (a fully convolutional backbone takes any size its cut can reach;
	// findFeature checks the cut still has a shape).
	want := b.Spec.Shape()
	spatial := [3]bool{false, true, true} // NCHW: C, H, W
	if b.Spec.Layout == "NHWC" {
		spatial = [3]bool{true, true, false}
	}
	resized := false
	for i, d := range b.InputShape {
		if d > 0 && d != want[i] {
			if !spatial[i] || (opt.InputWidth == 0 && (b.SpecSource == "default" || strings.HasPrefix(b.SpecSource, "builtin"))) {
				return fmt.Errorf("preprocessing (%s) makes %v tensors but input %q expects %v", b.SpecSource, want, b.Input, b.InputShape)
			}
			resized = true
		}
	}
	if resized {
		setInputDims(b.model.Graph.Input[0], want)
		b.Conversions = append(b.Conversions, fmt.Sprintf("input %v -> %v (preprocessing from %s)", b.InputShape, want, b.SpecSource))
		b.Resized, b.fileShape = true, append([]int64(nil), b.InputShape...)
	}
	b.InputShape = want
	return nil
}

// setInputDims fixes the per-sample dimensions of vi (all but the batch) to shape.
func setInputDims(vi *protos.ValueInfoProto, shape []int64) {
	tt := vi.GetType().GetTensorType()
	if tt == nil || tt.Shape == nil || len(tt.Shape.Dim) != len(shape)+1 {
		return
	}
	for i, v := range shape {
		tt.Shape.Dim[i+1].Value = &protos.TensorShapeProto_Dimension_DimValue{DimValue: v}
	}
}

func sidecarPaths(path string) []string {
	out := []string{path + ".json"}
	if ext := filepath.Ext(path); ext != "" && ext != ".json" {
		out = append(out, strings.TrimSuffix(path, ext)+".json")
	}
	return out
}

// ParseSpec parses an imageio.Spec JSON document (a backbone sidecar), rejecting unknown
// fields, and validates it.
func ParseSpec(data []byte) (imageio.Spec, error) {
	var s imageio.Spec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("preprocessing JSON: %w", err)
	}
	if err := s.Validate(); err != nil {
		return s, err
	}
	return s, nil
}

func (b *Backbone) defaultSpec() imageio.Spec {
	s := imageio.ImageNetSpec()
	d := b.InputShape
	if d[2] == 3 && d[0] != 3 {
		s.Layout = "NHWC"
		if d[0] > 0 && d[1] > 0 {
			s.Height, s.Width = int(d[0]), int(d[1])
		}
	} else if d[1] > 0 && d[2] > 0 {
		s.Height, s.Width = int(d[1]), int(d[2])
	}
	if s.Width != 224 || s.Height != 224 {
		s.ResizeShorter = 0 // crop straight from the shorter side at the model's size
	}
	return s
}

// ClassifierModel returns the whole normalised graph (float32, dynamic batch, the
// original outputs) serialized.
func (b *Backbone) ClassifierModel() ([]byte, error) {
	data, err := proto.Marshal(b.model)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: serializing: %w", b.Path, err)
	}
	return data, nil
}

// FeatureModel returns the graph cut at the feature node: one input [N,...] (as the
// original) and one output [N,FeatureDim], float32, serialized.
func (b *Backbone) FeatureModel() ([]byte, error) {
	m, err := b.featureProto()
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", b.Path, err)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: serializing: %w", b.Path, err)
	}
	return data, nil
}

// FeatureOutput is the name of FeatureModel's output: the name the bundle format
// requires of its backbone's output (bundle.FeatureOutput).
const FeatureOutput = bundle.FeatureOutput

func (b *Backbone) featureProto() (*protos.ModelProto, error) {
	src := b.model.Graph
	// Keep the nodes the cut depends on (nodes are topologically sorted in ONNX).
	needed := map[string]bool{b.FeatureNode: true}
	keep := make([]bool, len(src.Node))
	for i := len(src.Node) - 1; i >= 0; i-- {
		n := src.Node[i]
		use := false
		for _, o := range n.Output {
			if needed[o] {
				use = true
			}
		}
		if !use {
			continue
		}
		keep[i] = true
		for _, in := range n.Input {
			needed[in] = true
		}
		for _, a := range n.Attribute { // outer-scope names used by subgraphs
			for _, sg := range append(a.Graphs, a.G) {
				if sg == nil {
					continue
				}
				for _, sn := range sg.Node {
					for _, in := range sn.Input {
						needed[in] = true
					}
				}
			}
		}
	}
	g := &protos.GraphProto{Name: src.Name + "_features", Input: src.Input}
	for i, n := range src.Node {
		if keep[i] {
			g.Node = append(g.Node, n)
		}
	}
	for _, t := range src.Initializer {
		if needed[t.Name] {
			g.Initializer = append(g.Initializer, t)
		}
	}
	cut := b.FeatureNode
	if b.Pooled {
		nodes, inits := b.poolNodes(cut)
		g.Node = append(g.Node, nodes...)
		g.Initializer = append(g.Initializer, inits...)
	} else {
		s := b.shapes[cut]
		if len(s) == 2 {
			g.Node = append(g.Node, &protos.NodeProto{Name: "multilabel_identity", OpType: "Identity", Input: []string{cut}, Output: []string{FeatureOutput}})
		} else {
			// Rank unknown or [N,D,1,1]-like: flatten everything after the batch.
			g.Node = append(g.Node, &protos.NodeProto{Name: "multilabel_flatten", OpType: "Flatten", Input: []string{cut}, Output: []string{FeatureOutput},
				Attribute: []*protos.AttributeProto{{Name: "axis", Type: protos.AttributeProto_INT, I: 1}}})
		}
	}
	d := &protos.TensorShapeProto_Dimension{Value: &protos.TensorShapeProto_Dimension_DimParam{DimParam: "D"}}
	if b.FeatureDim > 0 {
		d.Value = &protos.TensorShapeProto_Dimension_DimValue{DimValue: int64(b.FeatureDim)}
	}
	g.Output = []*protos.ValueInfoProto{{Name: FeatureOutput, Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{
		TensorType: &protos.TypeProto_Tensor{ElemType: dtFloat, Shape: &protos.TensorShapeProto{Dim: []*protos.TensorShapeProto_Dimension{
			{Value: &protos.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}, d}}}}}}}
	m := &protos.ModelProto{IrVersion: b.model.IrVersion, OpsetImport: b.model.OpsetImport,
		ProducerName: "multilabel", Domain: b.model.Domain, Graph: g}
	return m, nil
}

// checkResizedCut refuses a rewritten input size the graph cannot take: the cut's shape
// must be known with every dimension at least 1 (a map shrunk to nothing, or a
// flattening that hard-codes the original size, cannot be used).
func (b *Backbone) checkResizedCut() error {
	sh := b.shapes[b.FeatureNode]
	bad := len(sh) == 0 || b.FeatureDim <= 0
	for _, d := range sh[min(1, len(sh)):] {
		if d < 1 {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("%w: input size %dx%d (preprocessing from %s): the graph cannot take it — the cut %q gets shape %s; use a larger size, or the file's own %v",
			ErrNoFeature, b.Spec.Width, b.Spec.Height, b.SpecSource, b.FeatureNode, b.cutShape(b.FeatureNode), b.fileShape)
	}
	return nil
}
