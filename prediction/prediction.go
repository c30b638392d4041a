// Package prediction defines the one JSON shape of a prediction, shared by
// `multilabel predict --json`, the HTTP API (POST /v1/predict) and the JSON
// marshalling of model.Prediction, so a client parses one format everywhere.
//
// One image is
//
//	{"path": "a.jpg", "labels": [{"label": "sea", "score": 0.91, "threshold": 0.32}],
//	 "scores": [{"label": "desert", "score": 0.02, "threshold": 0.73}, ...],
//	 "rule": "threshold", "error": "..."}
//
// labels are the predicted labels, best first; scores every label in vocabulary order
// with the threshold it was held to; rule the decision rule that chose labels; error
// (present only then) why the image could not be read, with labels and scores empty.
package prediction

import (
	"fmt"
	"sort"
)

// Label is one label of a prediction with its score and threshold.
type Label struct {
	Label     string  `json:"label"`
	Score     float64 `json:"score"`
	Threshold float64 `json:"threshold"`
}

// Image is the prediction for one image.
type Image struct {
	// Path is the image's file (predict, the library) or the uploaded part's file
	// name (HTTP; empty for a bare body).
	Path   string  `json:"path,omitempty"`
	Labels []Label `json:"labels"`
	Scores []Label `json:"scores"`
	Rule   string  `json:"rule"`
	Error  string  `json:"error,omitempty"`
	// Explain holds, when maps were asked for (predict --explain, HTTP ?explain=1, a
	// model opened with Explain), one activation map per predicted label, in Labels
	// order.
	Explain []Map `json:"explain,omitempty"`
}

// Map is the activation map of one predicted label: where on the image the head sees
// it. The map is a grid of Width×Height logits (the backbone's spatial map at the cut);
// Min, Max and Mean summarise it (for a linear head on average-pooled features Mean
// is the label's logit). The overlay is a PNG of the map upsampled, coloured (blue low
// → red high, scaled between Min and Max) and blended over the image as the model saw
// it: File names it where predict --explain wrote it; PNG carries it (base64 in JSON)
// in the HTTP answer and the library's marshalling.
type Map struct {
	Label  string  `json:"label"`
	File   string  `json:"file,omitempty"`
	PNG    []byte  `json:"png,omitempty"`
	Width  int     `json:"width"`
	Height int     `json:"height"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
}

// RuleThreshold predicts every label whose score reaches its threshold (score >=
// threshold).
const RuleThreshold = "threshold"

// RuleTopK predicts the k best labels whatever their thresholds (predict --top-k).
func RuleTopK(k int) string { return fmt.Sprintf("top %d", k) }

// RuleThresholdTopK predicts the labels reaching their thresholds, at most the k best
// (HTTP top_k).
func RuleThresholdTopK(k int) string { return fmt.Sprintf("%s, best %d", RuleThreshold, k) }

// RuleDecision names a decision rule chosen at predict time (predict --decision, HTTP
// decision=): "decision " and the rule as calib.ParseDecision reads it.
func RuleDecision(rule string) string { return "decision " + rule }

// New is the prediction of scores (indexed like labels and thresholds) under rule
// ("" = RuleThreshold), predicted naming the chosen labels (nil: decided here by the
// thresholds, at most topK when topK > 0).
func New(path string, scores []float32, labels []string, thresholds []float64, rule string, predicted []string, topK int) Image {
	im := Image{Path: path, Labels: []Label{}, Scores: make([]Label, len(labels)), Rule: rule}
	if im.Rule == "" {
		im.Rule = RuleThreshold
	}
	for j, l := range labels {
		im.Scores[j] = Label{Label: l, Score: float64(scores[j]), Threshold: thresholds[j]}
	}
	if predicted != nil {
		at := make(map[string]int, len(labels))
		for j, l := range labels {
			at[l] = j
		}
		for _, l := range predicted {
			if j, ok := at[l]; ok {
				im.Labels = append(im.Labels, im.Scores[j])
			}
		}
		return im
	}
	for _, s := range im.Scores {
		if s.Score >= s.Threshold {
			im.Labels = append(im.Labels, s)
		}
	}
	sort.SliceStable(im.Labels, func(a, b int) bool { return im.Labels[a].Score > im.Labels[b].Score })
	if topK > 0 && len(im.Labels) > topK {
		im.Labels = im.Labels[:topK]
	}
	return im
}

// Failed is the prediction of an image that could not be read.
func Failed(path string, err error, rule string) Image {
	if rule == "" {
		rule = RuleThreshold
	}
	return Image{Path: path, Labels: []Label{}, Scores: []Label{}, Rule: rule, Error: err.Error()}
}
