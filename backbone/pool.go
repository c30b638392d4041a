package backbone

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute-onnx/support/protos"
)

// Pooling of a spatial [N,C,H,W] cut into the feature vector (Options.Pool).
const (
	// PoolAvg is global average pooling: [N,C]. The default.
	PoolAvg = "avg"
	// PoolMax is global max pooling: [N,C].
	PoolMax = "max"
	// PoolAvgMax concatenates the average and the max: [N,2C] (average first).
	PoolAvgMax = "avgmax"
	// PoolGeM is generalised-mean pooling with a learnable exponent. It needs the
	// spatial map at training time, which the linear and MLP heads do not train on:
	// ParsePool accepts the name so that callers can reject it with a clear message.
	PoolGeM = "gem"
)

// Pools lists the pooling names ParsePool accepts, in help order.
var Pools = []string{PoolAvg, PoolMax, PoolAvgMax, PoolGeM}

// ParsePool returns the canonical pooling name of s ("" means PoolAvg), or an error
// naming the choices.
func ParsePool(s string) (string, error) {
	switch p := strings.ToLower(strings.TrimSpace(s)); p {
	case "", PoolAvg:
		return PoolAvg, nil
	case PoolMax, PoolAvgMax, PoolGeM:
		return p, nil
	}
	return "", fmt.Errorf("unknown pooling %q (want %s)", s, strings.Join(Pools, "|"))
}

// applyPool checks the requested pooling against the cut and sets Pool, FeatureDim and
// the reason. findFeature has already set Pooled (a 4-D map with spatial extent).
func (b *Backbone) applyPool(requested string) error {
	p, err := ParsePool(requested)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoFeature, err)
	}
	if p == PoolGeM {
		return fmt.Errorf("%w: pooling %q has a learnable exponent and is computed by the head, not by the feature graph; the linear and mlp heads train on pooled vectors (use %s, %s or %s)",
			ErrNoFeature, p, PoolAvg, PoolMax, PoolAvgMax)
	}
	if !b.Pooled {
		if requested != "" && p != PoolAvg {
			return fmt.Errorf("%w: pooling %q needs a spatial map [N,C,H,W] at the cut, but %q has shape %s; choose a convolutional cut with --feature-node (see 'multilabel backbone inspect')",
				ErrNoFeature, p, b.FeatureNode, b.cutShape(b.FeatureNode))
		}
		return nil
	}
	b.Pool = p
	switch p {
	case PoolMax:
		b.Reason = strings.TrimSuffix(b.Reason, ", global-average-pooled") + ", global-max-pooled"
	case PoolAvgMax:
		b.Reason = strings.TrimSuffix(b.Reason, ", global-average-pooled") + ", global average and max pooled (concatenated)"
		if b.FeatureDim > 0 {
			b.FeatureDim *= 2
		}
	}
	return nil
}

// poolNodes returns the nodes that pool the 4-D cut into FeatureOutput [N,D] and any
// initializers they need. ReduceMean/ReduceMax over axes 2,3 are used (axes as an
// attribute before opset 18, as an input from 18 on), so every runtime the project
// uses, the pure-Go one included, runs them.
func (b *Backbone) poolNodes(cut string) ([]*protos.NodeProto, []*protos.TensorProto) {
	var inits []*protos.TensorProto
	reduce := func(op, out string) *protos.NodeProto {
		n := &protos.NodeProto{Name: out, OpType: op, Input: []string{cut}, Output: []string{out},
			Attribute: []*protos.AttributeProto{{Name: "keepdims", Type: protos.AttributeProto_INT, I: 0}}}
		if b.Opset >= 18 {
			if len(inits) == 0 {
				inits = append(inits, &protos.TensorProto{Name: "multilabel_pool_axes", Dims: []int64{2},
					DataType: int32(protos.TensorProto_INT64), Int64Data: []int64{2, 3}})
			}
			n.Input = append(n.Input, "multilabel_pool_axes")
		} else {
			n.Attribute = append(n.Attribute, &protos.AttributeProto{Name: "axes", Type: protos.AttributeProto_INTS, Ints: []int64{2, 3}})
		}
		return n
	}
	switch b.Pool {
	case PoolMax:
		return []*protos.NodeProto{reduce("ReduceMax", FeatureOutput)}, inits
	case PoolAvgMax:
		return []*protos.NodeProto{
			reduce("ReduceMean", "multilabel_pool_avg"),
			reduce("ReduceMax", "multilabel_pool_max"),
			{Name: "multilabel_pool_concat", OpType: "Concat", Input: []string{"multilabel_pool_avg", "multilabel_pool_max"},
				Output: []string{FeatureOutput}, Attribute: []*protos.AttributeProto{{Name: "axis", Type: protos.AttributeProto_INT, I: 1}}},
		}, inits
	}
	// Average: the graph FeatureModel always wrote.
	return []*protos.NodeProto{
		{Name: "multilabel_pool", OpType: "GlobalAveragePool", Input: []string{cut}, Output: []string{"multilabel_pooled"}},
		{Name: "multilabel_flatten", OpType: "Flatten", Input: []string{"multilabel_pooled"}, Output: []string{FeatureOutput},
			Attribute: []*protos.AttributeProto{{Name: "axis", Type: protos.AttributeProto_INT, I: 1}}},
	}, nil
}
