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

// RuleTopK predicts the k best labels whatever their thresholds: the one top-k rule of
// predict --top-k, HTTP top_k and model.Options.TopK (Select with topK = k).
func RuleTopK(k int) string { return fmt.Sprintf("top %d", k) }

// RuleDecision names a decision rule chosen at predict time (predict --decision, HTTP
// decision=): "decision " and the rule as calib.ParseDecision reads it.
func RuleDecision(rule string) string { return "decision " + rule }

// Select is the one decision rule of every prediction, returning the indices of the
// predicted labels, best first (ties keep vocabulary order): with topK > 0 the topK
// highest scores whatever the thresholds (RuleTopK; topK beyond the vocabulary keeps
// every label); else every label whose score reaches its threshold (RuleThreshold), at
// most the maxK best of them when maxK > 0 (the decision rule topk:K).
func Select(scores []float32, thresholds []float64, topK, maxK int) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	if topK > 0 {
		return idx[:min(topK, len(idx))]
	}
	out := []int{}
	for _, j := range idx {
		if maxK > 0 && len(out) >= maxK {
			break
		}
		if float64(scores[j]) >= thresholds[j] {
			out = append(out, j)
		}
	}
	return out
}

// New is the prediction of scores (indexed like labels and thresholds) under rule
// ("" = RuleThreshold), predicted naming the chosen labels (nil: decided here by the
// thresholds, at most the maxK best when maxK > 0, as Select does).
func New(path string, scores []float32, labels []string, thresholds []float64, rule string, predicted []string, maxK int) Image {
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
	for _, j := range Select(scores, thresholds, 0, maxK) {
		im.Labels = append(im.Labels, im.Scores[j])
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
