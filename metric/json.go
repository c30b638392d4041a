package metric

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/multilabel/multilabel/internal/fsutil"
)

// MarshalJSON writes the keys listed on Result in a fixed order. Classes without an AP
// (and mAP when no class has one) are null.
func (r *Result) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	first := true
	put := func(k string, v any) {
		if !first {
			b.WriteString(",\n  ")
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteString(": ")
		vb, err := json.Marshal(v)
		if err != nil {
			vb = []byte("null")
		}
		b.Write(vb)
	}
	b.WriteString("{\n  ")
	put("mAP", nullable(r.MAP, r.HasMAP))
	b.WriteString(",\n  \"per_class_ap\": {")
	for j, c := range r.PerClass {
		if j > 0 {
			b.WriteString(", ")
		}
		kb, _ := json.Marshal(c.Label)
		b.Write(kb)
		b.WriteString(": ")
		vb, _ := json.Marshal(nullable(c.AP, c.HasAP))
		b.Write(vb)
	}
	b.WriteString("}")
	put("CP", r.CP)
	put("CR", r.CR)
	put("CF1", r.CF1)
	put("OP", r.OP)
	put("OR", r.OR)
	put("OF1", r.OF1)
	if r.TopK > 0 {
		sfx := fmt.Sprintf("_top%d", r.TopK)
		put("CP"+sfx, r.CPTopK)
		put("CR"+sfx, r.CRTopK)
		put("CF1"+sfx, r.CF1TopK)
		put("OP"+sfx, r.OPTopK)
		put("OR"+sfx, r.ORTopK)
		put("OF1"+sfx, r.OF1TopK)
	}
	put("macro_F1", r.MacroF1)
	put("micro_F1", r.MicroF1)
	put("hamming_loss", r.HammingLoss)
	put("subset_accuracy", r.SubsetAccuracy)
	put("coverage", r.Coverage)
	put("ranking_loss", r.RankingLoss)
	put("lrap", r.LRAP)
	put("n_images", r.NImages)
	put("n_labels", r.NLabels)
	put("threshold", r.Threshold)
	put("top_k", r.TopK)
	if r.Thresholds != nil {
		m := make([]labelValue, len(r.Thresholds))
		for j, t := range r.Thresholds {
			m[j] = labelValue{r.PerClass[j].Label, t}
		}
		put("thresholds", orderedMap(m))
	}
	if r.MAPCI != nil && !math.IsNaN(r.MAPCI.Lo) {
		put("mAP_ci", map[string]float64{"lo": r.MAPCI.Lo, "hi": r.MAPCI.Hi, "level": r.MAPCI.Level})
	}
	pc := make([]classJSON, len(r.PerClass))
	for j, c := range r.PerClass {
		pc[j] = classJSON{ClassResult: c, AP: nullable(c.AP, c.HasAP), TP: c.Counts.TP, FP: c.Counts.FP, FN: c.Counts.FN}
	}
	put("per_class", pc)
	b.WriteString("\n}\n")
	return b.Bytes(), nil
}

type classJSON struct {
	ClassResult
	AP *float64 `json:"ap"`
	TP int      `json:"tp"`
	FP int      `json:"fp"`
	FN int      `json:"fn"`
}

type labelValue struct {
	label string
	v     float64
}

// orderedMap marshals as a JSON object keeping the slice order.
type orderedMap []labelValue

func (m orderedMap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range m {
		if i > 0 {
			b.WriteString(", ")
		}
		kb, _ := json.Marshal(kv.label)
		vb, err := json.Marshal(kv.v)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteString(": ")
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func nullable(v float64, ok bool) *float64 {
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// WriteJSON writes r as indented JSON to path through a temporary file renamed into
// place, so that the file is never half-written.
func WriteJSON(path string, r *Result) error {
	data, err := r.MarshalJSON()
	if err != nil {
		return fmt.Errorf("metric: encode %s: %w", path, err)
	}
	if err := fsutil.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
