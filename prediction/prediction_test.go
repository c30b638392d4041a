package prediction

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// TestSelect: top-k ignores the thresholds; the threshold rule caps at maxK; ties keep
// vocabulary order.
func TestSelect(t *testing.T) {
	t.Parallel()
	scores := []float32{0.2, 0.9, 0.2, 0.6}
	thr := []float64{0.5, 0.95, 0.1, 0.5}
	for _, c := range []struct {
		topK, maxK int
		want       []int
	}{
		{0, 0, []int{3, 2}},
		{0, 1, []int{3}},
		{2, 0, []int{1, 3}},
		{3, 0, []int{1, 3, 0}},
		{9, 0, []int{1, 3, 0, 2}},
	} {
		got := Select(scores, thr, c.topK, c.maxK)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("top %d, max %d: %v, want %v", c.topK, c.maxK, got, c.want)
		}
	}
	if RuleTopK(3) != "top 3" {
		t.Errorf("RuleTopK(3) = %q", RuleTopK(3))
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	labels := []string{"a", "b", "c"}
	thr := []float64{0.5, 0.5, 0.25}
	scores := []float32{0.75, 0.25, 0.5}
	got := New("x.png", scores, labels, thr, "", nil, 0)
	b, _ := json.Marshal(got)
	want := `{"path":"x.png","labels":[{"label":"a","score":0.75,"threshold":0.5},{"label":"c","score":0.5,"threshold":0.25}],` +
		`"scores":[{"label":"a","score":0.75,"threshold":0.5},{"label":"b","score":0.25,"threshold":0.5},{"label":"c","score":0.5,"threshold":0.25}],` +
		`"rule":"threshold"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if top := New("", scores, labels, thr, "decision topk:1", nil, 1); len(top.Labels) != 1 || top.Labels[0].Label != "a" || top.Rule != "decision topk:1" {
		t.Errorf("at most 1: %+v", top)
	}
	if given := New("", scores, labels, thr, RuleTopK(2), []string{"a", "c"}, 0); len(given.Labels) != 2 || given.Labels[1].Label != "c" {
		t.Errorf("given labels: %+v", given)
	}
	f := Failed("y.png", errors.New("y.png: not an image"), "")
	if b, _ := json.Marshal(f); string(b) != `{"path":"y.png","labels":[],"scores":[],"rule":"threshold","error":"y.png: not an image"}` {
		t.Errorf("failed: %s", b)
	}
}
