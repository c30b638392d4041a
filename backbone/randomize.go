package backbone

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/internal/half"
)

// RandomizeStats says what RandomizeONNX changed.
type RandomizeStats struct {
	// Weights is the number of Conv/Gemm/MatMul weight tensors replaced by He-normal noise.
	Weights int
	// Reset is the number of biases and normalisation parameters reset to their initial
	// values (biases and means 0, scales and variances 1).
	Reset int
	// Params is the number of values rewritten.
	Params int64
}

// RandomizeONNX returns a copy of an ONNX model whose learned parameters are replaced by
// a seeded random initialisation, keeping the architecture: Conv, Gemm and MatMul weights
// get He-normal values (standard deviation sqrt(2/fan_in)), their biases 0,
// BatchNormalization scale and variance 1 and bias and mean 0. Other initializers
// (shapes, constants) are kept. Float16, float32 and float64 initializers are handled;
// the data type of each tensor is unchanged.
//
// It exists to measure the transfer gap: the same head trained on features of the
// untrained architecture shows how much the pretrained weights contribute.
func RandomizeONNX(onnx []byte, seed uint64) ([]byte, RandomizeStats, error) {
	var st RandomizeStats
	var m protos.ModelProto
	if err := proto.Unmarshal(onnx, &m); err != nil {
		return nil, st, fmt.Errorf("randomize: parse ONNX: %w", err)
	}
	g := m.GetGraph()
	if g == nil {
		return nil, st, fmt.Errorf("randomize: ONNX model has no graph")
	}
	type use struct {
		op    string
		index int
		node  *protos.NodeProto
	}
	uses := map[string]use{}
	for _, n := range g.GetNode() {
		for i, in := range n.GetInput() {
			if _, seen := uses[in]; !seen {
				uses[in] = use{n.GetOpType(), i, n}
			}
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d6c622d72616e64))
	for _, t := range g.GetInitializer() {
		u, ok := uses[t.GetName()]
		if !ok {
			continue
		}
		dims := t.GetDims()
		var fanIn int64 // > 0: He-normal; 0 with reset: constant
		reset, resetVal := false, 0.0
		switch u.op {
		case "Conv":
			switch u.index {
			case 1:
				fanIn = prod(dims[1:])
			case 2:
				reset = true
			}
		case "Gemm":
			switch u.index {
			case 1:
				if len(dims) == 2 {
					fanIn = dims[0]
					if intAttr(u.node, "transB") == 1 {
						fanIn = dims[1]
					}
				}
			case 2:
				reset = true
			}
		case "MatMul":
			if u.index == 1 && len(dims) >= 2 {
				fanIn = dims[len(dims)-2]
			}
		case "BatchNormalization":
			switch u.index {
			case 1, 4:
				reset, resetVal = true, 1
			case 2, 3:
				reset = true
			}
		}
		if fanIn <= 0 && !reset {
			continue
		}
		n := prod(dims)
		if n < 0 || n > 1<<31 {
			return nil, st, fmt.Errorf("randomize: initializer %q: bad dims %v", t.GetName(), dims)
		}
		vals := make([]float64, n)
		if fanIn > 0 {
			std := math.Sqrt(2 / float64(fanIn))
			for i := range vals {
				vals[i] = rng.NormFloat64() * std
			}
			st.Weights++
		} else {
			for i := range vals {
				vals[i] = resetVal
			}
			st.Reset++
		}
		if err := setFloats(t, vals); err != nil {
			return nil, st, fmt.Errorf("randomize: initializer %q: %w", t.GetName(), err)
		}
		st.Params += n
	}
	out, err := proto.Marshal(&m)
	if err != nil {
		return nil, st, fmt.Errorf("randomize: encode ONNX: %w", err)
	}
	return out, st, nil
}

func intAttr(n *protos.NodeProto, name string) int64 {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a.GetI()
		}
	}
	return 0
}

// setFloats replaces the tensor's data by vals, stored as raw_data in its own type.
func setFloats(t *protos.TensorProto, vals []float64) error {
	if len(t.GetExternalData()) > 0 || t.GetDataLocation() == protos.TensorProto_EXTERNAL {
		return fmt.Errorf("external data is not supported")
	}
	var raw []byte
	switch protos.TensorProto_DataType(t.GetDataType()) {
	case protos.TensorProto_FLOAT:
		raw = make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(v)))
		}
	case protos.TensorProto_DOUBLE:
		raw = make([]byte, 8*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(v))
		}
	case protos.TensorProto_FLOAT16:
		raw = make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(raw[2*i:], half.FromFloat32(float32(v)))
		}
	default:
		return fmt.Errorf("data type %d is not a float type", t.GetDataType())
	}
	t.RawData = raw
	t.FloatData, t.DoubleData, t.Int32Data = nil, nil, nil
	return nil
}
