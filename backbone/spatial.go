package backbone

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// SpatialShape returns the channels, height and width of the map at the cut, or an
// error (ErrNoFeature) naming the cut when it has no spatial dimensions.
func (b *Backbone) SpatialShape() (c, h, w int, err error) {
	s := b.shapes[b.FeatureNode]
	if !b.Pooled || len(s) != 4 || s[1] <= 0 || s[2] <= 0 || s[3] <= 0 {
		return 0, 0, 0, fmt.Errorf("%w: the cut %q has shape %s, not a spatial map [N,C,H,W] with known C, H, W; choose a convolutional cut with --feature-node (see 'multilabel backbone inspect')",
			ErrNoFeature, b.FeatureNode, b.cutShape(b.FeatureNode))
	}
	return int(s[1]), int(s[2]), int(s[3]), nil
}

// SpatialModel returns the graph cut at the feature node with the map at the cut
// flattened instead of pooled: one output [N, C·H·W] named FeatureOutput, each row the
// C×H×W map in row-major order (channel, then row, then column). It is an error when
// the cut has no spatial dimensions (see SpatialShape).
func (b *Backbone) SpatialModel() ([]byte, error) {
	c, h, w, err := b.SpatialShape()
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", b.Path, err)
	}
	flat := *b
	flat.Pooled, flat.Pool, flat.FeatureDim = false, "", c*h*w
	m, err := flat.featureProto()
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", b.Path, err)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: serializing: %w", b.Path, err)
	}
	return data, nil
}

// cutShape is the inferred shape of tensor t with the batch dimension shown as N.
func (b *Backbone) cutShape(t string) string {
	s := append([]int64(nil), b.shapes[t]...)
	if len(s) > 0 {
		s[0] = -1
	}
	if b.shapes[t] == nil {
		s = nil
	}
	return shapeString(s)
}
