package model

import (
	"encoding/json"

	"github.com/multilabel/multilabel/prediction"
)

// JSON is p in the one JSON shape of a prediction (package prediction): what predict
// --json and the HTTP API write, and what json.Marshal writes for a Prediction that
// Predict or PredictFiles returned.
func (m *Model) JSON(p Prediction) prediction.Image {
	rule := prediction.RuleThreshold
	if m.opt.TopK > 0 {
		rule = prediction.RuleTopK(m.opt.TopK)
	}
	if m.th != nil {
		rule = prediction.RuleDecision(m.dec.String())
	}
	if p.Err != nil {
		return prediction.Failed(p.Path, p.Err, rule)
	}
	names := make([]string, len(p.Labels))
	for i, l := range p.Labels {
		names[i] = l.Label
	}
	im := prediction.New(p.Path, p.Scores, m.Labels(), m.Thresholds(), rule, names, 0)
	for _, lm := range p.Maps {
		im.Explain = append(im.Explain, lm.JSON())
	}
	return im
}

// MarshalJSON writes a Prediction of Predict or PredictFiles as Model.JSON does. One
// built by hand (no model) is written as {"path", "labels", "scores", "error"} with
// scores a plain list; either way Err becomes the "error" string (omitted when nil).
func (p Prediction) MarshalJSON() ([]byte, error) {
	if p.model != nil {
		return json.Marshal(p.model.JSON(p))
	}
	type plain Prediction // no MarshalJSON: no recursion
	out := struct {
		plain
		Error string `json:"error,omitempty"`
	}{plain: plain(p)}
	if p.Err != nil {
		out.Error = p.Err.Error()
	}
	return json.Marshal(out)
}
