package model

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestPredictionJSONKeepsError(t *testing.T) {
	t.Parallel()
	preds := []Prediction{
		{Path: "a.jpg", Labels: []LabelScore{{Label: "sea", Score: 0.75}}, Scores: []float32{0.75, 0.25}},
		{Path: "b.jpg", Err: errors.New("b.jpg: not an image")},
	}
	got, err := json.Marshal(preds)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"path":"a.jpg","labels":[{"label":"sea","score":0.75}],"scores":[0.75,0.25]},` +
		`{"path":"b.jpg","labels":null,"scores":null,"error":"b.jpg: not an image"}]`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
