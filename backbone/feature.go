package backbone

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/multilabel/multilabel/internal/onnxattr"
)

// Ops that may sit between the classifier and the graph output.
var tailOps = map[string]bool{
	"Softmax": true, "LogSoftmax": true, "Sigmoid": true, "Identity": true, "Dropout": true,
	"Flatten": true, "Reshape": true, "Squeeze": true, "Relu": true, "GlobalAveragePool": true,
	"ReduceMean": true, "Add": true, "Cast": true, "Clip": true, "Transpose": true,
}

// findFeature sets FeatureNode, FeatureDim, Pooled, Reason and Candidates.
func (b *Backbone) findFeature(override string) error {
	g := b.model.Graph
	inShape := append([]int64{1}, b.InputShape...)
	b.shapes = inferShapes(g, b.Input, inShape)
	producer := map[string]*protos.NodeProto{}
	for _, n := range g.Node {
		for _, o := range n.Output {
			producer[o] = n
		}
	}
	inits := map[string]*protos.TensorProto{}
	for _, t := range g.Initializer {
		inits[t.Name] = t
	}
	isConst := func(name string) bool {
		if _, ok := inits[name]; ok {
			return true
		}
		p := producer[name]
		return p != nil && p.OpType == "Constant"
	}

	var cut, reason string
	var classifier *protos.NodeProto
	resolve := func(name string) (string, error) {
		if _, ok := producer[name]; ok || name == b.Input {
			return name, nil
		}
		// Accept a node name too.
		for _, n := range g.Node {
			if n.Name == name && len(n.Output) > 0 {
				return n.Output[0], nil
			}
		}
		return "", fmt.Errorf("%w: %q is neither a tensor nor a node of the graph (see 'multilabel backbone inspect')", ErrNoFeature, name)
	}
	_, isTensor := producer[override]
	if !isTensor && strings.HasPrefix(override, concatPrefix) && strings.HasSuffix(override, ")") && strings.Contains(override, ",") {
		override = override[len(concatPrefix) : len(override)-1] // a joined cut's own name, as FeatureNode reports it
	}
	if !isTensor && strings.Contains(override, ",") {
		c, err := b.concatCuts(strings.Split(override, ","), resolve)
		if err != nil {
			return err
		}
		producer[c] = g.Node[len(g.Node)-1]
		cut, reason = c, "chosen by the user: the maps "+strings.TrimSuffix(strings.TrimPrefix(c, concatPrefix), ")")+" joined along the channels"
	} else if override != "" {
		var err error
		if cut, err = resolve(override); err != nil {
			return err
		}
		reason = "chosen by the user"
	} else {
		t := g.Output[0].Name
		for steps := 0; steps < 64 && classifier == nil; steps++ {
			n := producer[t]
			if n == nil {
				break
			}
			switch {
			case n.OpType == "Gemm" || n.OpType == "MatMul":
				classifier = n
			case n.OpType == "Conv" && isPointwise(n, inits):
				classifier = n
			case tailOps[n.OpType]:
				next := ""
				for _, in := range n.Input {
					if in != "" && !isConst(in) {
						next = in
						break
					}
				}
				if next == "" || (n.OpType == "Add" && nonConstInputs(n, isConst) > 1) {
					t = ""
				} else {
					t = next
				}
			default:
				t = ""
			}
			if t == "" {
				break
			}
		}
		if classifier != nil && len(classifier.Input) > 0 && classifier.Input[0] != "" {
			cut = classifier.Input[0]
			// Dropout/Identity before the classifier are no-ops at inference.
			for p := producer[cut]; p != nil && (p.OpType == "Dropout" || p.OpType == "Identity") && len(p.Input) > 0; p = producer[cut] {
				cut = p.Input[0]
			}
			reason = fmt.Sprintf("input of the final %s classifier %q", classifier.OpType, nodeLabel(classifier))
		} else {
			classifier = nil
			cut = g.Output[0].Name
			reason = "no final classifier found: the graph output is used as the features"
		}
	}
	b.FeatureNode = cut
	b.Reason = reason
	s := b.shapes[cut]
	switch {
	case len(s) == 4 && (s[2] != 1 || s[3] != 1):
		b.Pooled = true
		b.FeatureDim = int(s[1])
	case len(s) == 4:
		b.FeatureDim = int(s[1])
	case len(s) == 2:
		b.FeatureDim = int(s[1])
	case len(s) == 3 || len(s) > 4:
		return fmt.Errorf("%w: tensor %q has shape %v; want [N,D] or a [N,C,H,W] map", ErrNoFeature, cut, s)
	case s == nil && classifier != nil:
		// Shape inference failed: fall back to the classifier's weights.
		b.FeatureDim = classifierInDim(classifier, inits)
		b.Pooled = classifier.OpType == "Conv"
	}
	if b.Pooled {
		b.Reason += ", global-average-pooled"
	}
	b.Candidates = b.candidates(g, producer)
	return nil
}

func nonConstInputs(n *protos.NodeProto, isConst func(string) bool) int {
	c := 0
	for _, in := range n.Input {
		if in != "" && !isConst(in) {
			c++
		}
	}
	return c
}

// isPointwise reports a Conv with a constant 1×1 kernel and no grouping: the shape of a
// convolutional classifier.
func isPointwise(n *protos.NodeProto, inits map[string]*protos.TensorProto) bool {
	if len(n.Input) < 2 || onnxattr.Int(n, "group", 1) != 1 {
		return false
	}
	w := inits[n.Input[1]]
	if w == nil || len(w.Dims) != 4 {
		return false
	}
	return w.Dims[2] == 1 && w.Dims[3] == 1
}

// classifierInDim reads the classifier's input width from its weights (0 if unknown).
func classifierInDim(n *protos.NodeProto, inits map[string]*protos.TensorProto) int {
	if len(n.Input) < 2 {
		return 0
	}
	w := inits[n.Input[1]]
	if w == nil {
		return 0
	}
	switch n.OpType {
	case "Gemm":
		if len(w.Dims) == 2 {
			if onnxattr.Int(n, "transB", 0) == 1 {
				return int(w.Dims[1])
			}
			return int(w.Dims[0])
		}
	case "MatMul":
		if len(w.Dims) == 2 {
			return int(w.Dims[0])
		}
	case "Conv":
		if len(w.Dims) == 4 {
			return int(w.Dims[1])
		}
	}
	return 0
}

// candidates lists tensors of rank 2 or 4 produced by the last nodes of the graph, nearest
// the output last, plus the chosen cut.
func (b *Backbone) candidates(g *protos.GraphProto, producer map[string]*protos.NodeProto) []Candidate {
	const window = 16
	seen := map[string]bool{}
	var out []Candidate
	add := func(t string) {
		if seen[t] {
			return
		}
		seen[t] = true
		c := Candidate{Tensor: t, Chosen: t == b.FeatureNode}
		if p := producer[t]; p != nil {
			c.Op = p.OpType
		}
		if s := b.shapes[t]; s != nil {
			c.Shape = append([]int64{-1}, s[1:]...)
			if len(s) == 2 || len(s) == 4 {
				c.Dim = int(s[1])
			}
		} else if c.Chosen {
			c.Dim = b.FeatureDim
		}
		out = append(out, c)
	}
	start := len(g.Node) - window
	if start < 0 {
		start = 0
	}
	for _, n := range g.Node[start:] {
		if n.OpType == "Constant" || len(n.Output) == 0 {
			continue
		}
		if s := b.shapes[n.Output[0]]; s != nil && len(s) != 2 && len(s) != 4 {
			continue
		}
		add(n.Output[0])
	}
	add(b.FeatureNode)
	// Chosen first, then graph order from the end.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Chosen && !out[j].Chosen })
	return out
}

// concatPrefix starts the name of the tensor a multi-cut feature node makes
// ("concat(a,b)"): see concatCuts.
const concatPrefix = "concat("

// concatCuts makes the feature map of several cuts (Options.FeatureNode "a,b,..."): it
// appends to the graph one Concat node joining the named maps along the channels and
// returns its output's name, concat(a,b,...). Earlier and later layers of one network
// see different things (texture and colour nearer the input, parts and objects nearer
// the output), so a head given both may separate labels neither alone separates. The
// maps must be [N,C,H,W] of one spatial size (SqueezeNet's fire6..fire9 are all 13×13
// at 224²): pooling, spatial maps, activation maps and the exported graph then treat the
// joined map as any other cut.
func (b *Backbone) concatCuts(names []string, resolve func(string) (string, error)) (string, error) {
	g := b.model.Graph
	var tensors []string
	var c, h, w int64
	seen := map[string]bool{}
	for _, name := range names {
		name = strings.TrimSpace(name)
		if name == "" {
			return "", fmt.Errorf("%w: feature node list %q has an empty name", ErrNoFeature, strings.Join(names, ","))
		}
		t, err := resolve(name)
		if err != nil {
			return "", err
		}
		if seen[t] {
			return "", fmt.Errorf("%w: feature node %q is named twice in %q", ErrNoFeature, t, strings.Join(names, ","))
		}
		seen[t] = true
		s := b.shapes[t]
		if len(s) != 4 || s[1] < 1 || s[2] < 1 || s[3] < 1 {
			return "", fmt.Errorf("%w: feature node %q has shape %s; joining several cuts needs [N,C,H,W] maps (see 'multilabel backbone inspect')", ErrNoFeature, t, b.cutShape(t))
		}
		if len(tensors) > 0 && (s[2] != h || s[3] != w) {
			return "", fmt.Errorf("%w: feature nodes %q (%s) and %q (%s) differ in spatial size; joined cuts must share H×W (pick cuts between the same poolings, see 'multilabel backbone inspect')",
				ErrNoFeature, tensors[0], b.cutShape(tensors[0]), t, b.cutShape(t))
		}
		h, w = s[2], s[3]
		c += s[1]
		tensors = append(tensors, t)
	}
	out := concatPrefix + strings.Join(tensors, ",") + ")"
	g.Node = append(g.Node, &protos.NodeProto{Name: "multilabel_concat_cuts", OpType: "Concat", Input: tensors, Output: []string{out},
		Attribute: []*protos.AttributeProto{{Name: "axis", Type: protos.AttributeProto_INT, I: 1}}})
	b.shapes[out] = []int64{b.shapes[tensors[0]][0], c, h, w}
	return out, nil
}
