package backbone

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/gomlx/compute-onnx/support/protos"

	"github.com/multilabel/multilabel/internal/half"
)

const (
	dtFloat   = int32(protos.TensorProto_FLOAT)
	dtFloat16 = int32(protos.TensorProto_FLOAT16)
	dtInt64   = int32(protos.TensorProto_INT64)
	dtInt32   = int32(protos.TensorProto_INT32)
)

// tensorFP16ToFP32 rewrites a float16 tensor in place as float32 (raw_data).
func tensorFP16ToFP32(t *protos.TensorProto) error {
	if t == nil || t.DataType != dtFloat16 {
		return nil
	}
	if t.DataLocation == protos.TensorProto_EXTERNAL {
		return fmt.Errorf("tensor %q: float16 data stored in an external file is not supported", t.Name)
	}
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	var bits []uint16
	switch {
	case len(t.RawData) > 0:
		if int64(len(t.RawData)) != 2*n {
			return fmt.Errorf("tensor %q: %d raw bytes for %d float16 values", t.Name, len(t.RawData), n)
		}
		bits = make([]uint16, n)
		for i := range bits {
			bits[i] = binary.LittleEndian.Uint16(t.RawData[2*i:])
		}
	default:
		if int64(len(t.Int32Data)) != n {
			return fmt.Errorf("tensor %q: %d values for shape %v", t.Name, len(t.Int32Data), t.Dims)
		}
		bits = make([]uint16, n)
		for i, v := range t.Int32Data {
			bits[i] = uint16(v)
		}
	}
	raw := make([]byte, 4*n)
	for i, h := range bits {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(half.ToFloat32(h)))
	}
	t.DataType = dtFloat
	t.RawData = raw
	t.Int32Data = nil
	return nil
}

func typeFP16ToFP32(tp *protos.TypeProto) bool {
	if tt := tp.GetTensorType(); tt != nil && tt.ElemType == dtFloat16 {
		tt.ElemType = dtFloat
		return true
	}
	return false
}

// convertGraphFP16 turns every float16 tensor, type and Cast-to-float16 in g (and its
// subgraphs) into float32. It returns the number of changes.
func convertGraphFP16(g *protos.GraphProto) (int, error) {
	changes := 0
	for _, t := range g.Initializer {
		if t.DataType == dtFloat16 {
			if err := tensorFP16ToFP32(t); err != nil {
				return changes, fmt.Errorf("initializer: %w", err)
			}
			changes++
		}
	}
	for _, list := range [][]*protos.ValueInfoProto{g.Input, g.Output, g.ValueInfo} {
		for _, vi := range list {
			if typeFP16ToFP32(vi.GetType()) {
				changes++
			}
		}
	}
	for _, n := range g.Node {
		for _, a := range n.Attribute {
			if n.OpType == "Cast" && a.Name == "to" && a.I == int64(dtFloat16) {
				a.I = int64(dtFloat)
				changes++
			}
			if a.T != nil && a.T.DataType == dtFloat16 {
				if err := tensorFP16ToFP32(a.T); err != nil {
					return changes, fmt.Errorf("node %q attribute %s: %w", nodeLabel(n), a.Name, err)
				}
				changes++
			}
			for _, t := range a.Tensors {
				if t.DataType == dtFloat16 {
					if err := tensorFP16ToFP32(t); err != nil {
						return changes, fmt.Errorf("node %q attribute %s: %w", nodeLabel(n), a.Name, err)
					}
					changes++
				}
			}
			subs := a.Graphs
			if a.G != nil {
				subs = append([]*protos.GraphProto{a.G}, subs...)
			}
			for _, sg := range subs {
				c, err := convertGraphFP16(sg)
				changes += c
				if err != nil {
					return changes, err
				}
			}
		}
	}
	return changes, nil
}

func nodeLabel(n *protos.NodeProto) string {
	if n.Name != "" {
		return n.Name
	}
	if len(n.Output) > 0 {
		return n.OpType + "->" + n.Output[0]
	}
	return n.OpType
}

// stripInitializerInputs removes from g.Input the names that have an initializer (IR < 4
// models list every weight as an input). It returns how many it removed.
func stripInitializerInputs(g *protos.GraphProto) int {
	inits := make(map[string]bool, len(g.Initializer))
	for _, t := range g.Initializer {
		inits[t.Name] = true
	}
	kept := g.Input[:0]
	removed := 0
	for _, in := range g.Input {
		if inits[in.Name] {
			removed++
			continue
		}
		kept = append(kept, in)
	}
	g.Input = kept
	return removed
}

// dims returns the dimensions of a tensor value (-1 for symbolic or unknown ones) and
// whether the value has a known rank.
func dims(vi *protos.ValueInfoProto) ([]int64, bool) {
	tt := vi.GetType().GetTensorType()
	if tt == nil || tt.Shape == nil {
		return nil, false
	}
	out := make([]int64, len(tt.Shape.Dim))
	for i, d := range tt.Shape.Dim {
		if v, ok := d.Value.(*protos.TensorShapeProto_Dimension_DimValue); ok && v.DimValue > 0 {
			out[i] = v.DimValue
		} else {
			out[i] = -1
		}
	}
	return out, true
}

// setBatchDynamic makes the first dimension of vi symbolic ("N") when it is fixed to 1
// or already symbolic. It reports whether a fixed 1 was changed.
func setBatchDynamic(vi *protos.ValueInfoProto) bool {
	tt := vi.GetType().GetTensorType()
	if tt == nil || tt.Shape == nil || len(tt.Shape.Dim) == 0 {
		return false
	}
	d := tt.Shape.Dim[0]
	if v, ok := d.Value.(*protos.TensorShapeProto_Dimension_DimValue); ok {
		if v.DimValue != 1 {
			return false
		}
		d.Value = &protos.TensorShapeProto_Dimension_DimParam{DimParam: "N"}
		return true
	}
	return false
}

// fixReshapeBatch rewrites Reshape target shapes that hard-code a batch of 1 (a constant
// [1, ...]) to copy the batch from their input (0), so a graph exported with batch 1 runs
// with any batch. Shapes used by a Reshape of a constant are left alone.
func fixReshapeBatch(g *protos.GraphProto) int {
	inits := map[string]*protos.TensorProto{}
	for _, t := range g.Initializer {
		inits[t.Name] = t
	}
	consts := map[string]*protos.TensorProto{}
	for _, n := range g.Node {
		if n.OpType == "Constant" && len(n.Output) == 1 {
			for _, a := range n.Attribute {
				if a.Name == "value" && a.T != nil {
					consts[n.Output[0]] = a.T
				}
			}
		}
	}
	changed := 0
	done := map[*protos.TensorProto]bool{}
	for _, n := range g.Node {
		if n.OpType != "Reshape" || len(n.Input) < 2 {
			continue
		}
		if _, isConst := inits[n.Input[0]]; isConst {
			continue
		}
		allowZero := false
		for _, a := range n.Attribute {
			if a.Name == "allowzero" && a.I == 1 {
				allowZero = true
			}
		}
		if allowZero {
			continue
		}
		t := inits[n.Input[1]]
		if t == nil {
			t = consts[n.Input[1]]
		}
		if t == nil || t.DataType != dtInt64 || done[t] {
			continue
		}
		vals, err := int64Values(t)
		if err != nil || len(vals) < 2 || vals[0] != 1 {
			continue
		}
		vals[0] = 0
		setInt64Values(t, vals)
		done[t] = true
		changed++
	}
	return changed
}

func int64Values(t *protos.TensorProto) ([]int64, error) {
	switch t.DataType {
	case dtInt64:
		if len(t.RawData) > 0 {
			if len(t.RawData)%8 != 0 {
				return nil, fmt.Errorf("tensor %q: raw data of %d bytes", t.Name, len(t.RawData))
			}
			out := make([]int64, len(t.RawData)/8)
			for i := range out {
				out[i] = int64(binary.LittleEndian.Uint64(t.RawData[8*i:]))
			}
			return out, nil
		}
		return append([]int64(nil), t.Int64Data...), nil
	case dtInt32:
		if len(t.RawData) > 0 {
			out := make([]int64, len(t.RawData)/4)
			for i := range out {
				out[i] = int64(int32(binary.LittleEndian.Uint32(t.RawData[4*i:])))
			}
			return out, nil
		}
		out := make([]int64, len(t.Int32Data))
		for i, v := range t.Int32Data {
			out[i] = int64(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("tensor %q: not an integer tensor", t.Name)
}

func setInt64Values(t *protos.TensorProto, vals []int64) {
	t.DataType = dtInt64
	t.Int64Data = nil
	t.Int32Data = nil
	raw := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	t.RawData = raw
}

// floatCount is the number of elements of a tensor.
func elemCount(t *protos.TensorProto) int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}
