package model

import "encoding/json"

// MarshalJSON writes a Prediction as {"path", "labels", "scores", "error"}: Err, which
// encoding/json cannot write, becomes the "error" string (omitted when nil), so a
// marshalled batch of PredictFiles says which images failed and why.
func (p Prediction) MarshalJSON() ([]byte, error) {
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
