package bundle

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/calib"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/headparams"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/onnxcheck"
)

// Member names inside a bundle.
const (
	memberBackbone     = "backbone.onnx"
	memberBackboneInfo = "backbone.json"
	memberHead         = "head.json"
	memberLabels       = "labels.json"
	memberThresholds   = "thresholds.json"
	memberPreprocess   = "preprocess.json"
	memberTraining     = "training.json"
	memberMetrics      = "metrics.json"
	memberDecision     = "decision.json"
)

// Decision is the decision rule a bundle was trained with (decision.json, absent in
// bundles made before rules were stored) and what overriding it needs: the F1
// thresholds and each label's validation curve. Bundle.Thresholds are the rule's.
type Decision struct {
	// Rule is the rule as calib.ParseDecision reads it ("f1", "precision:0.9", ...).
	Rule string `json:"rule"`
	// F1Thresholds are the F1-best thresholds per label (the f1 and topk rules').
	F1Thresholds []float64 `json:"f1_thresholds"`
	// Curves are the labels' validation curves (precision and recall rules).
	Curves []calib.Curve `json:"curves,omitempty"`
	// Calibration names the calibration map folded into the head's last layer at
	// training (--calibrate): "temperature" (Temperatures, z → z/T) or "platt" (PlattA
	// and PlattB, z → a·z + b); empty with Temperatures set means temperature (bundles
	// made before Platt scaling). Informational: the head's logits already carry the
	// map, so it is never applied again.
	Calibration  string    `json:"calibration,omitempty"`
	Temperatures []float64 `json:"temperatures,omitempty"`
	PlattA       []float64 `json:"platt_a,omitempty"`
	PlattB       []float64 `json:"platt_b,omitempty"`
}

// Rule returns the decision rule the bundle was trained with ("f1" without decision.json).
func (b *Bundle) Rule() string {
	if b.Decision == nil || b.Decision.Rule == "" {
		return calib.F1
	}
	return b.Decision.Rule
}

// DecisionThresholds returns the per-label thresholds of rule s ("" = the bundle's own
// rule) and the parsed rule: the bundle's thresholds for its own rule, the F1 thresholds
// for f1 and topk:K, thresholds chosen on the stored validation curves for precision:P
// and recall:R. notes name the labels that fell back to their F1 threshold. A rule that
// does not parse, or a precision or recall rule on a bundle without curves, is an
// error of kind errkind.ErrBadInput.
func (b *Bundle) DecisionThresholds(s string) (calib.Decision, []float64, []string, error) {
	if strings.TrimSpace(s) == "" {
		s = b.Rule()
	}
	d, err := calib.ParseDecision(s)
	if err != nil {
		return d, nil, nil, err
	}
	own, _ := calib.ParseDecision(b.Rule())
	f1 := b.Thresholds
	if b.Decision != nil && b.Decision.F1Thresholds != nil {
		f1 = b.Decision.F1Thresholds
	}
	switch {
	case d.Kind == own.Kind && d.Target == own.Target:
		return d, b.Thresholds, nil, nil
	case d.Kind == calib.F1 || d.Kind == calib.TopK:
		if b.Decision == nil && own.Kind != calib.F1 {
			return d, nil, nil, errkind.BadInput("decision %q: the bundle carries no F1 thresholds", s)
		}
		return d, f1, nil, nil
	}
	if b.Decision == nil || len(b.Decision.Curves) == 0 {
		return d, nil, nil, errkind.BadInput("decision %q: the bundle carries no validation curves (trained before decision rules were stored, or without a validation share); retrain it, or use f1 or topk:K", s)
	}
	th, notes, err := calib.FromCurves(d, b.Decision.Curves, f1)
	if err != nil {
		return d, nil, nil, fmt.Errorf("bundle: %s: %w", memberDecision, err)
	}
	return d, th, notes, nil
}

// BackboneInfo records where a bundle's feature extractor came from.
type BackboneInfo struct {
	// Name is the file name or zoo name the user gave.
	Name string `json:"name"`
	// SHA256 is the digest of the original ONNX file (before cutting at the feature node).
	SHA256 string `json:"sha256,omitempty"`
	// FeatureNode is the graph value the features are taken from.
	FeatureNode string `json:"feature_node,omitempty"`
	// FeatureDim is the length of one feature vector (the head's input size).
	FeatureDim int `json:"feature_dim"`
	// Pool is the global pooling of a spatial cut inside the backbone graph ("avg",
	// "max", "avgmax"); empty when the cut was not pooled (or in bundles written before
	// pooling was a choice, which average-pool). The graph itself does the pooling, so
	// predict, serve and the exported ONNX agree.
	Pool string `json:"pool,omitempty"`
	// Randomized is set when the weights were replaced by a random initialisation
	// (backbone.RandomizeONNX; a transfer-gap baseline, not a useful model).
	Randomized bool `json:"randomized,omitempty"`
	// RandomSeed is the seed of that initialisation.
	RandomSeed uint64 `json:"random_seed,omitempty"`
}

// Bundle is the content of a .mlb file.
type Bundle struct {
	// Backbone is the feature extractor as fp32 ONNX with a dynamic batch dimension: one
	// input [N,C,H,W] (or NHWC per Spec.Layout), one output [N,FeatureDim].
	Backbone     []byte
	BackboneInfo BackboneInfo
	// Head maps a feature vector to one logit per label.
	Head headparams.Params
	// Labels is the label vocabulary; scores and thresholds are indexed like it.
	Labels []string
	// Thresholds holds one decision threshold in [0,1] per label (on sigmoid scores).
	Thresholds []float64
	// Spec is the image preprocessing the backbone expects.
	Spec imageio.Spec
	// Training is the training configuration and history, as JSON (may be empty).
	Training json.RawMessage
	// Metrics holds validation and test metrics, as JSON (may be empty).
	Metrics json.RawMessage
	// Decision is the trained decision rule and what overriding it needs (nil: f1,
	// no curves).
	Decision *Decision

	// Filled in by Save and Read:
	// Manifest lists the members with their digests.
	Manifest *Manifest
	// ID is the hex sha256 of the manifest; it identifies the bundle's exact content.
	ID string
}

// Validate checks that the parts of the bundle fit together.
func (b *Bundle) Validate() error {
	if len(b.Backbone) == 0 {
		return fmt.Errorf("bundle: %s: empty backbone", memberBackbone)
	}
	if len(b.Labels) == 0 {
		return fmt.Errorf("bundle: %s: no labels", memberLabels)
	}
	seen := make(map[string]bool, len(b.Labels))
	for i, l := range b.Labels {
		if l == "" {
			return fmt.Errorf("bundle: %s: label %d is empty", memberLabels, i)
		}
		if seen[l] {
			return fmt.Errorf("bundle: %s: label %q appears twice", memberLabels, l)
		}
		seen[l] = true
	}
	if len(b.Thresholds) != len(b.Labels) {
		return fmt.Errorf("bundle: %s: %d thresholds for %d labels", memberThresholds, len(b.Thresholds), len(b.Labels))
	}
	for i, t := range b.Thresholds {
		if math.IsNaN(t) || t < 0 || t > 1 {
			return fmt.Errorf("bundle: %s: threshold %d (%s) = %v, want 0..1", memberThresholds, i, b.Labels[i], t)
		}
	}
	if err := b.validateDecision(); err != nil {
		return err
	}
	if err := b.Spec.Validate(); err != nil {
		return fmt.Errorf("bundle: %s: %w", memberPreprocess, err)
	}
	if err := b.Head.Validate(); err != nil {
		return fmt.Errorf("bundle: %s: %w", memberHead, err)
	}
	if b.Head.Out != len(b.Labels) {
		return fmt.Errorf("bundle: %s: head has %d outputs for %d labels", memberHead, b.Head.Out, len(b.Labels))
	}
	if b.BackboneInfo.FeatureDim != 0 && b.BackboneInfo.FeatureDim != b.Head.In {
		return fmt.Errorf("bundle: %s: head input %d, backbone feature dim %d", memberHead, b.Head.In, b.BackboneInfo.FeatureDim)
	}
	return checkSelfContained(b.Backbone)
}

func (b *Bundle) validateDecision() error {
	d := b.Decision
	if d == nil {
		return nil
	}
	if _, err := calib.ParseDecision(d.Rule); err != nil {
		return fmt.Errorf("bundle: %s: %w", memberDecision, err)
	}
	for _, v := range []struct {
		what string
		n    int
	}{{"f1 thresholds", len(d.F1Thresholds)}, {"curves", len(d.Curves)}, {"temperatures", len(d.Temperatures)},
		{"platt_a", len(d.PlattA)}, {"platt_b", len(d.PlattB)}} {
		if v.n != 0 && v.n != len(b.Labels) {
			return fmt.Errorf("bundle: %s: %d %s for %d labels", memberDecision, v.n, v.what, len(b.Labels))
		}
	}
	for i, t := range d.F1Thresholds {
		if math.IsNaN(t) || t < 0 || t > 1 {
			return fmt.Errorf("bundle: %s: f1 threshold %d = %v, want 0..1", memberDecision, i, t)
		}
	}
	for i, c := range d.Curves {
		if err := c.Validate(); err != nil {
			return fmt.Errorf("bundle: %s: label %d: %w", memberDecision, i, err)
		}
	}
	switch d.Calibration {
	case "", calib.TemperatureMethod, calib.PlattMethod:
	default:
		return fmt.Errorf("bundle: %s: calibration %q, want %s or %s", memberDecision, d.Calibration, calib.TemperatureMethod, calib.PlattMethod)
	}
	for i, a := range d.PlattA {
		if !(a > 0) || math.IsInf(a, 0) {
			return fmt.Errorf("bundle: %s: platt_a %d = %v, want a positive finite slope", memberDecision, i, a)
		}
	}
	for i, b := range d.PlattB {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return fmt.Errorf("bundle: %s: platt_b %d = %v, want a finite intercept", memberDecision, i, b)
		}
	}
	return nil
}

// checkSelfContained refuses a backbone graph whose tensors keep their data in other
// files (ONNX external data): a bundle must hold everything it uses, under its manifest,
// or the same bundle id would predict differently depending on the files beside it.
func checkSelfContained(graph []byte) error {
	var m protos.ModelProto
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(graph, &m); err != nil {
		return fmt.Errorf("bundle: %s: not a valid ONNX model: %v", memberBackbone, err)
	}
	ext := ""
	onnxcheck.ForEachTensor(&m, func(t *protos.TensorProto) {
		if ext == "" && t.GetDataLocation() == protos.TensorProto_EXTERNAL {
			ext = t.GetName()
		}
	})
	if ext != "" {
		return fmt.Errorf("bundle: %s: tensor %q keeps its data outside the bundle (external data %v); a bundle must be self-contained (train from the backbone file, which embeds the data)", memberBackbone, ext, onnxcheck.ExternalRefs(&m))
	}
	return nil
}

// Save validates the bundle and writes it to path atomically (temporary file + rename).
// It sets b.Manifest and b.ID.
func (b *Bundle) Save(path string) error {
	if err := b.Validate(); err != nil {
		return err
	}
	js := func(name string, v any) (member, error) {
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return member{}, fmt.Errorf("bundle: %s: %w", name, err)
		}
		return member{name, data}, nil
	}
	members := []member{{memberBackbone, b.Backbone}}
	for _, m := range []struct {
		name string
		v    any
	}{
		{memberBackboneInfo, b.BackboneInfo},
		{memberHead, b.Head},
		{memberLabels, b.Labels},
		{memberThresholds, b.Thresholds},
		{memberPreprocess, b.Spec},
	} {
		mm, err := js(m.name, m.v)
		if err != nil {
			return err
		}
		members = append(members, mm)
	}
	for _, m := range []struct {
		name string
		raw  json.RawMessage
	}{{memberTraining, b.Training}, {memberMetrics, b.Metrics}} {
		raw := m.raw
		if len(raw) == 0 {
			raw = json.RawMessage("{}")
		}
		if !json.Valid(raw) {
			return fmt.Errorf("bundle: %s: not valid JSON", m.name)
		}
		members = append(members, member{m.name, raw})
	}
	if b.Decision != nil {
		mm, err := js(memberDecision, b.Decision)
		if err != nil {
			return err
		}
		members = append(members, mm)
	}
	manBytes, err := writeArchive(path, members, time.Now())
	if err != nil {
		return err
	}
	var man Manifest
	if err := json.Unmarshal(manBytes, &man); err != nil {
		return fmt.Errorf("bundle: manifest: %w", err)
	}
	b.Manifest, b.ID = &man, digest(manBytes)
	return nil
}

// Read reads and verifies a bundle file without starting any engine. Damaged,
// truncated and tampered files are refused with an error wrapping ErrCorrupt that names
// the member.
//
// The file's size is checked against its manifest before the members are read: a file
// larger than its members account for (a 6 GB sparse file behind a valid bundle) is
// refused after reading only the manifest.
func Read(path string) (*Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model bundle: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("model bundle: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("model bundle %s: not a regular file: %w", path, ErrCorrupt)
	}
	if err := checkFileSize(f, st.Size(), path); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("model bundle: %w", err)
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("model bundle %s: %v: %w", path, err, ErrCorrupt)
	}
	return decode(data, path)
}

// Decode reads and verifies a bundle held in memory; name is used in errors.
func Decode(data []byte, name string) (*Bundle, error) { return decode(data, name) }

func decode(data []byte, name string) (*Bundle, error) {
	members, man, manBytes, err := readArchive(data, name)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Manifest: man, ID: digest(manBytes)}
	need := func(n string) ([]byte, error) {
		d, ok := members[n]
		if !ok {
			return nil, fmt.Errorf("model bundle %s: member %s missing: %w", name, n, ErrCorrupt)
		}
		return d, nil
	}
	if b.Backbone, err = need(memberBackbone); err != nil {
		return nil, err
	}
	for _, m := range []struct {
		name string
		v    any
	}{
		{memberBackboneInfo, &b.BackboneInfo},
		{memberHead, &b.Head},
		{memberLabels, &b.Labels},
		{memberThresholds, &b.Thresholds},
		{memberPreprocess, &b.Spec},
	} {
		d, err := need(m.name)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(d, m.v); err != nil {
			return nil, fmt.Errorf("model bundle %s: member %s: %v: %w", name, m.name, err, ErrCorrupt)
		}
	}
	if b.Training, err = need(memberTraining); err != nil {
		return nil, err
	}
	if b.Metrics, err = need(memberMetrics); err != nil {
		return nil, err
	}
	if d, ok := members[memberDecision]; ok {
		b.Decision = &Decision{}
		if err := json.Unmarshal(d, b.Decision); err != nil {
			return nil, fmt.Errorf("model bundle %s: member %s: %v: %w", name, memberDecision, err, ErrCorrupt)
		}
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("model bundle %s: %w: %w", name, err, ErrCorrupt)
	}
	return b, nil
}
