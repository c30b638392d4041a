package backbone

import (
	"fmt"
	"io"
	"strings"

	"github.com/multilabel/multilabel/imageio"
)

// TensorInfo describes a graph input or output.
type TensorInfo struct {
	Name  string  `json:"name"`
	Shape []int64 `json:"shape,omitempty"` // -1 for the dynamic batch or unknown dimensions; nil when unknown
}

// Report is what 'multilabel backbone inspect' prints.
type Report struct {
	Path        string       `json:"path"`
	SHA256      string       `json:"sha256"`
	Zoo         string       `json:"zoo,omitempty"` // the zoo entry recognised by hash or file name
	IRVersion   int64        `json:"ir_version"`
	Opset       int64        `json:"opset"`
	Producer    string       `json:"producer,omitempty"`
	Params      int64        `json:"params"`
	Inputs      []TensorInfo `json:"inputs"`
	Outputs     []TensorInfo `json:"outputs"`
	Conversions []string     `json:"conversions,omitempty"`
	FeatureNode string       `json:"feature_node"`
	FeatureDim  int          `json:"feature_dim"`
	Pooled      bool         `json:"pooled"`
	Pool        string       `json:"pool,omitempty"`    // the pooling when Pooled (avg, max, avgmax)
	Spatial     []int        `json:"spatial,omitempty"` // [C,H,W] of the map at a spatial cut (features --spatial, --pool)
	Reason      string       `json:"reason"`
	Candidates  []Candidate  `json:"candidates"`
	Blocks      []Block      `json:"blocks"` // the cut points for fine-tuning, first to last
	Spec        imageio.Spec `json:"preprocessing"`
	SpecSource  string       `json:"preprocessing_source"`
}

// Report summarises the backbone.
func (b *Backbone) Report() Report {
	r := Report{Path: b.Path, SHA256: b.SHA256, IRVersion: b.IRVersion, Opset: b.Opset,
		Producer: b.Producer, Params: b.Params, Conversions: b.Conversions,
		FeatureNode: b.FeatureNode, FeatureDim: b.FeatureDim, Pooled: b.Pooled, Reason: b.Reason,
		Candidates: b.Candidates, Blocks: b.Blocks(), Spec: b.Spec, SpecSource: b.SpecSource, Pool: b.Pool}
	if c, h, w, err := b.SpatialShape(); err == nil {
		r.Spatial = []int{c, h, w}
	}
	if e := lookupBuiltin(b.SHA256, ""); e != nil {
		r.Zoo = e.Name
	}
	r.Inputs = []TensorInfo{{Name: b.Input, Shape: append([]int64{-1}, b.InputShape...)}}
	for _, o := range b.Outputs {
		ti := TensorInfo{Name: o}
		if s := b.shapes[o]; s != nil {
			ti.Shape = append([]int64{-1}, s[1:]...)
		}
		r.Outputs = append(r.Outputs, ti)
	}
	return r
}

func shapeString(s []int64) string {
	if s == nil {
		return "?"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		switch {
		case i == 0 && d < 0:
			parts[i] = "N"
		case d < 0:
			parts[i] = "?"
		default:
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// WriteText prints the report for people.
func (r Report) WriteText(w io.Writer) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "file:          %s\n", r.Path)
	fmt.Fprintf(&sb, "sha256:        %s\n", r.SHA256)
	if r.Zoo != "" {
		fmt.Fprintf(&sb, "zoo entry:     %s\n", r.Zoo)
	}
	fmt.Fprintf(&sb, "ONNX:          IR version %d, opset %d", r.IRVersion, r.Opset)
	if r.Producer != "" {
		fmt.Fprintf(&sb, ", producer %s", r.Producer)
	}
	fmt.Fprintf(&sb, "\nparameters:    %d\n", r.Params)
	for _, in := range r.Inputs {
		fmt.Fprintf(&sb, "input:         %s %s\n", in.Name, shapeString(in.Shape))
	}
	for _, o := range r.Outputs {
		fmt.Fprintf(&sb, "output:        %s %s\n", o.Name, shapeString(o.Shape))
	}
	for _, c := range r.Conversions {
		fmt.Fprintf(&sb, "converted:     %s\n", c)
	}
	fmt.Fprintf(&sb, "feature node:  %s -> [N,%d] (%s)\n", r.FeatureNode, r.FeatureDim, r.Reason)
	if len(r.Spatial) == 3 {
		fmt.Fprintf(&sb, "spatial map:   %d×%d×%d at the cut (--pool avg|max|avgmax; features --spatial keeps it)\n", r.Spatial[0], r.Spatial[1], r.Spatial[2])
	}
	fmt.Fprintf(&sb, "candidates:\n")
	for _, c := range r.Candidates {
		mark := " "
		if c.Chosen {
			mark = "*"
		}
		fmt.Fprintf(&sb, "  %s %-40s %-18s %-16s dim %d\n", mark, c.Tensor, c.Op, shapeString(c.Shape), c.Dim)
	}
	if len(r.Blocks) > 0 {
		WriteBlocks(&sb, r.Blocks) // a strings.Builder does not fail
	}
	s := r.Spec
	fmt.Fprintf(&sb, "preprocessing: %s: %dx%d %s", r.SpecSource, s.Width, s.Height, s.Resize)
	if s.ResizeShorter > 0 {
		fmt.Fprintf(&sb, " (shorter side %d)", s.ResizeShorter)
	}
	std := s.Std
	for i := range std {
		if std[i] == 0 {
			std[i] = 1
		}
	}
	fmt.Fprintf(&sb, ", %s, scale 0..%g, mean %v, std %v, %s\n", s.ChannelOrder, s.Scale, s.Mean, std, s.Layout)
	_, err := io.WriteString(w, sb.String())
	return err
}
