// Package onnxcheck checks an ONNX graph before anything builds or runs it, so that a
// hostile or corrupt model gives an error instead of a crash: the nodes must have a
// topological order (a cycle is refused, where a recursive graph builder would overflow
// its stack), every declared tensor size is computed with overflow checks and held to a
// budget (a 10^12-element initializer declared without data would otherwise be allocated),
// the data a tensor holds must match the size it declares, a name is defined once (one
// initializer, one producing node), and tensors stored outside the model (external data)
// are refused unless the caller allows them.
//
// Every error matches errkind.ErrBadInput.
package onnxcheck

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/gomlx/compute-onnx/support/protos"

	"github.com/multilabel/multilabel/errkind"
)

// DefaultMaxTensorBytes bounds the size one tensor may declare (an initializer, a
// Constant, a graph input or output, a ConstantOfShape or Expand target): 4 GiB.
const DefaultMaxTensorBytes = 4 << 30

// Limits configure Check. The zero value means the defaults.
type Limits struct {
	// MaxTensorBytes bounds the declared size of any one tensor; 0 means
	// DefaultMaxTensorBytes.
	MaxTensorBytes int64
	// AllowExternal accepts tensors whose data_location is EXTERNAL; their data is not
	// checked here (see ExternalRefs). The engines refuse them: a model they run must
	// hold all its data (backbone.Load embeds it).
	AllowExternal bool
}

func (l Limits) maxBytes() int64 {
	if l.MaxTensorBytes > 0 {
		return l.MaxTensorBytes
	}
	return DefaultMaxTensorBytes
}

// Check validates m; see the package documentation. It does not modify m.
func Check(m *protos.ModelProto, lim Limits) error {
	if m == nil || m.Graph == nil {
		return errkind.BadInput("onnx: no graph")
	}
	c := checker{lim: lim}
	return c.graph(m.Graph, "graph", false)
}

type checker struct {
	lim   Limits
	depth int
}

// graph checks g; nested graphs (If/Loop bodies) may read names of the enclosing scopes,
// so names they do not define are not errors there.
func (c *checker) graph(g *protos.GraphProto, where string, nested bool) error {
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > 64 {
		return errkind.BadInput("onnx: %s: subgraphs nested more than 64 deep", where)
	}
	avail := make(map[string]bool, len(g.Input)+len(g.Initializer))
	consts := map[string]*protos.TensorProto{}
	for i, t := range g.Initializer {
		if _, err := c.tensor(t, fmt.Sprintf("%s initializer %d %q", where, i, t.GetName())); err != nil {
			return err
		}
		if avail[t.GetName()] {
			return errkind.BadInput("onnx: %s: initializer %q appears twice", where, t.GetName())
		}
		avail[t.GetName()] = true
		consts[t.GetName()] = t
	}
	for i, t := range g.SparseInitializer {
		if t.GetValues() != nil {
			avail[t.GetValues().GetName()] = true
		}
		for _, d := range t.GetDims() {
			if d < 0 {
				return errkind.BadInput("onnx: %s sparse initializer %d: negative dimension %d", where, i, d)
			}
		}
		if _, err := c.elems(t.GetDims(), 4, fmt.Sprintf("%s sparse initializer %d", where, i)); err != nil {
			return err
		}
	}
	for _, vis := range [][]*protos.ValueInfoProto{g.Input, g.Output, g.ValueInfo} {
		for _, vi := range vis {
			if err := c.valueInfo(vi, where); err != nil {
				return err
			}
		}
	}
	for _, in := range g.Input {
		avail[in.GetName()] = true
	}
	// Kahn's algorithm: a node is ready once every input it names is available.
	producer := make(map[string]int, len(g.Node))
	for i, n := range g.Node {
		for _, o := range n.Output {
			if o == "" {
				continue
			}
			if avail[o] {
				return errkind.BadInput("onnx: %s node %d %q (%s): output %q is also a graph input or initializer", where, i, n.GetName(), n.GetOpType(), o)
			}
			if j, dup := producer[o]; dup {
				return errkind.BadInput("onnx: %s nodes %d and %d both produce %q", where, j, i, o)
			}
			producer[o] = i
		}
	}
	waiting := make([]int, len(g.Node)) // inputs not yet available, per node
	users := map[string][]int{}
	var ready []int
	for i, n := range g.Node {
		if err := c.node(n, i, where, consts); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, in := range n.Input {
			if in == "" || avail[in] || seen[in] {
				continue
			}
			seen[in] = true
			if _, ok := producer[in]; !ok {
				if nested {
					continue // from an enclosing scope
				}
				return errkind.BadInput("onnx: %s node %d %q (%s): input %q is not a graph input, an initializer or any node's output", where, i, n.GetName(), n.GetOpType(), in)
			}
			waiting[i]++
			users[in] = append(users[in], i)
		}
		if waiting[i] == 0 {
			ready = append(ready, i)
		}
	}
	done := 0
	for len(ready) > 0 {
		i := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		done++
		for _, o := range g.Node[i].Output {
			for _, u := range users[o] {
				waiting[u]--
				if waiting[u] == 0 {
					ready = append(ready, u)
				}
			}
			delete(users, o)
		}
	}
	if done != len(g.Node) {
		for i, w := range waiting {
			if w > 0 {
				n := g.Node[i]
				return errkind.BadInput("onnx: %s has a cycle: %d of %d nodes depend on their own outputs (e.g. node %d %q, %s)", where, len(g.Node)-done, len(g.Node), i, n.GetName(), n.GetOpType())
			}
		}
	}
	return nil
}

// node checks the tensors and subgraphs in n's attributes, and the sizes that
// ConstantOfShape and Expand would allocate when their shape input is a constant.
func (c *checker) node(n *protos.NodeProto, i int, where string, consts map[string]*protos.TensorProto) error {
	at := fmt.Sprintf("%s node %d %q (%s)", where, i, n.GetName(), n.GetOpType())
	for _, a := range n.Attribute {
		if a.T != nil {
			t, err := c.tensor(a.T, at+" attribute "+a.GetName())
			if err != nil {
				return err
			}
			if n.GetOpType() == "Constant" {
				for _, o := range n.Output {
					consts[o] = t
				}
			}
		}
		for k, t := range a.Tensors {
			if _, err := c.tensor(t, fmt.Sprintf("%s attribute %s[%d]", at, a.GetName(), k)); err != nil {
				return err
			}
		}
		if a.G != nil {
			if err := c.graph(a.G, at+" attribute "+a.GetName(), true); err != nil {
				return err
			}
		}
		for k, g := range a.Graphs {
			if err := c.graph(g, fmt.Sprintf("%s attribute %s[%d]", at, a.GetName(), k), true); err != nil {
				return err
			}
		}
	}
	if (n.GetOpType() == "ConstantOfShape" || n.GetOpType() == "Expand") && n.GetDomain() == "" {
		idx := 0
		if n.GetOpType() == "Expand" {
			idx = 1
		}
		if len(n.Input) > idx {
			if t := consts[n.Input[idx]]; t != nil {
				if shape, ok := int64Values(t); ok {
					for _, d := range shape {
						if d < 0 && n.GetOpType() == "ConstantOfShape" {
							return errkind.BadInput("onnx: %s: negative dimension %d in shape %v", at, d, shape)
						}
					}
					pos := make([]int64, len(shape))
					for k, d := range shape {
						pos[k] = max(d, 1)
						if n.GetOpType() == "ConstantOfShape" {
							pos[k] = d
						}
					}
					if _, err := c.elems(pos, 4, at+" shape"); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// valueInfo checks the declared static dimensions of a graph input, output or value_info.
func (c *checker) valueInfo(vi *protos.ValueInfoProto, where string) error {
	tt := vi.GetType().GetTensorType()
	if tt == nil || tt.GetShape() == nil {
		return nil
	}
	var dims []int64
	for _, d := range tt.GetShape().GetDim() {
		if v, ok := d.GetValue().(*protos.TensorShapeProto_Dimension_DimValue); ok {
			if v.DimValue < 0 {
				return errkind.BadInput("onnx: %s value %q: negative dimension %d", where, vi.GetName(), v.DimValue)
			}
			if v.DimValue > 0 {
				dims = append(dims, v.DimValue)
			}
		}
	}
	_, err := c.elems(dims, ElemSize(tt.GetElemType()), fmt.Sprintf("%s value %q", where, vi.GetName()))
	return err
}

// tensor checks t's declared size against the budget and against the data it holds,
// and returns t.
func (c *checker) tensor(t *protos.TensorProto, at string) (*protos.TensorProto, error) {
	for _, d := range t.GetDims() {
		if d < 0 {
			return nil, errkind.BadInput("onnx: %s: negative dimension %d in %v", at, d, t.GetDims())
		}
	}
	size := ElemSize(t.GetDataType())
	n, err := c.elems(t.GetDims(), size, at)
	if err != nil {
		return nil, err
	}
	if t.GetDataLocation() == protos.TensorProto_EXTERNAL {
		if !c.lim.AllowExternal {
			return nil, errkind.BadInput("onnx: %s: data stored outside the model (external data) is not accepted here; load the model with backbone.Load, which embeds it", at)
		}
		return t, nil
	}
	var have int64
	switch {
	case t.GetRawData() != nil:
		raw := int64(len(t.GetRawData()))
		want := n * size
		if bits := subByteBits(t.GetDataType()); bits > 0 {
			want = (n*bits + 7) / 8
		}
		if raw != want {
			return nil, errkind.BadInput("onnx: %s: raw data has %d bytes, its dimensions %v declare %d", at, raw, t.GetDims(), want)
		}
		return t, nil
	case len(t.GetFloatData()) > 0:
		have = int64(len(t.GetFloatData()))
	case len(t.GetInt32Data()) > 0:
		have = int64(len(t.GetInt32Data()))
	case len(t.GetInt64Data()) > 0:
		have = int64(len(t.GetInt64Data()))
	case len(t.GetDoubleData()) > 0:
		have = int64(len(t.GetDoubleData()))
	case len(t.GetUint64Data()) > 0:
		have = int64(len(t.GetUint64Data()))
	case len(t.GetStringData()) > 0:
		have = int64(len(t.GetStringData()))
	}
	dt := protos.TensorProto_DataType(t.GetDataType())
	if dt == protos.TensorProto_COMPLEX64 || dt == protos.TensorProto_COMPLEX128 {
		have /= 2
	}
	if subByteBits(t.GetDataType()) > 0 && have > 0 && have <= n {
		// int32_data packs several sub-byte values per element.
		return t, nil
	}
	if have != n {
		return nil, errkind.BadInput("onnx: %s: holds %d values, its dimensions %v declare %d", at, have, t.GetDims(), n)
	}
	return t, nil
}

// elems multiplies dims (all ≥ 0) with overflow checks and holds elems × size to the
// budget.
func (c *checker) elems(dims []int64, size int64, at string) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		hi, lo := bits.Mul64(uint64(n), uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, errkind.BadInput("onnx: %s: dimensions %v overflow 64 bits", at, dims)
		}
		n = int64(lo)
	}
	max := c.lim.maxBytes()
	if size > 0 && n > max/size {
		return 0, errkind.BadInput("onnx: %s: dimensions %v declare %d elements (%d bytes), over the %d-byte limit per tensor", at, dims, n, satMul(n, size), max)
	}
	return n, nil
}

func satMul(a, b int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

// int64Values returns the values of a small INT64 tensor (a shape).
func int64Values(t *protos.TensorProto) ([]int64, bool) {
	if protos.TensorProto_DataType(t.GetDataType()) != protos.TensorProto_INT64 || len(t.GetDims()) > 1 {
		return nil, false
	}
	if len(t.GetInt64Data()) > 0 {
		return t.GetInt64Data(), true
	}
	raw := t.GetRawData()
	if len(raw)%8 != 0 || len(raw) > 8*64 {
		return nil, false
	}
	out := make([]int64, len(raw)/8)
	for i := range out {
		var v uint64
		for k := 7; k >= 0; k-- {
			v = v<<8 | uint64(raw[8*i+k])
		}
		out[i] = int64(v)
	}
	return out, true
}

// subByteBits is the size in bits of one element of a packed type (0 for the others).
func subByteBits(dt int32) int64 {
	switch protos.TensorProto_DataType(dt) {
	case protos.TensorProto_INT4, protos.TensorProto_UINT4, protos.TensorProto_FLOAT4E2M1:
		return 4
	case protos.TensorProto_INT2, protos.TensorProto_UINT2:
		return 2
	}
	return 0
}

// ElemSize is the storage size of one element in bytes (1 for unknown types, so their
// count is still bounded).
func ElemSize(dt int32) int64 {
	switch protos.TensorProto_DataType(dt) {
	case protos.TensorProto_DOUBLE, protos.TensorProto_INT64, protos.TensorProto_UINT64, protos.TensorProto_COMPLEX64:
		return 8
	case protos.TensorProto_COMPLEX128:
		return 16
	case protos.TensorProto_FLOAT, protos.TensorProto_INT32, protos.TensorProto_UINT32:
		return 4
	case protos.TensorProto_FLOAT16, protos.TensorProto_BFLOAT16, protos.TensorProto_INT16, protos.TensorProto_UINT16:
		return 2
	case protos.TensorProto_STRING:
		return 16
	}
	return 1
}

// ExternalRefs lists the external-data locations that m's tensors (in every subgraph)
// name, each once, in order of first use.
func ExternalRefs(m *protos.ModelProto) []string {
	var out []string
	seen := map[string]bool{}
	ForEachTensor(m, func(t *protos.TensorProto) {
		if t.GetDataLocation() != protos.TensorProto_EXTERNAL {
			return
		}
		for _, kv := range t.GetExternalData() {
			if kv.GetKey() == "location" && !seen[kv.GetValue()] {
				seen[kv.GetValue()] = true
				out = append(out, kv.GetValue())
			}
		}
	})
	return out
}

// ForEachTensor calls f for every initializer and attribute tensor of m, subgraphs
// included.
func ForEachTensor(m *protos.ModelProto, f func(*protos.TensorProto)) {
	if m == nil || m.Graph == nil {
		return
	}
	var walk func(g *protos.GraphProto, depth int)
	walk = func(g *protos.GraphProto, depth int) {
		if depth > 64 {
			return
		}
		for _, t := range g.Initializer {
			f(t)
		}
		for _, n := range g.Node {
			for _, a := range n.Attribute {
				if a.T != nil {
					f(a.T)
				}
				for _, t := range a.Tensors {
					f(t)
				}
				if a.G != nil {
					walk(a.G, depth+1)
				}
				for _, sg := range a.Graphs {
					walk(sg, depth+1)
				}
			}
		}
	}
	walk(m.Graph, 0)
}
