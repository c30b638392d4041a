package dataset

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestListNegativesAndUnknowns(t *testing.T) {
	t.Parallel()
	src := "image,labels\r\na.jpg,\"sea,-trees,?sunset\"\r\nb.jpg,trees\r\nc.jpg,\"? desert\"\r\nc.jpg,sea\r\n"
	for _, tc := range []struct {
		missing string
		want    map[string][]int8 // labels desert, sea, sunset, trees
	}{
		{"", map[string][]int8{"a.jpg": {0, 1, -1, 0}, "b.jpg": {0, 0, 0, 1}, "c.jpg": {-1, 1, 0, 0}}},
		{MissingNegative, map[string][]int8{"a.jpg": {0, 1, -1, 0}, "b.jpg": {0, 0, 0, 1}, "c.jpg": {-1, 1, 0, 0}}},
		{MissingUnknown, map[string][]int8{"a.jpg": {-1, 1, -1, 0}, "b.jpg": {-1, -1, -1, 1}, "c.jpg": {-1, 1, -1, -1}}},
	} {
		d, err := parseCSV(strings.NewReader(src), "l.csv", "", Options{Missing: tc.missing})
		if err != nil {
			t.Fatalf("missing=%q: %v", tc.missing, err)
		}
		if !slices.Equal(d.Labels, []string{"desert", "sea", "sunset", "trees"}) {
			t.Fatalf("labels %q", d.Labels)
		}
		for _, s := range d.Samples {
			if !slices.Equal(s.Truth, tc.want[s.Image]) {
				t.Errorf("missing=%q: %s truth %v, want %v", tc.missing, s.Image, s.Truth, tc.want[s.Image])
			}
		}
	}
	// A fixed vocabulary checks the names behind the markers.
	if _, err := parseCSV(strings.NewReader(src), "l.csv", "", Options{Labels: []string{"sea", "trees", "sunset"}}); err == nil {
		t.Error("?desert outside the vocabulary accepted")
	}
	for name, bad := range map[string]string{
		"positive and negative": "image,labels\na.jpg,\"sea,-sea\"\n",
		"merged rows conflict":  "image,labels\na.jpg,sea\na.jpg,?sea\n",
	} {
		_, err := parseCSV(strings.NewReader(bad), "l.csv", "", Options{})
		var ie *InputError
		if !IsBadInput(err) || !errors.As(err, &ie) || ie.Line == 0 {
			t.Errorf("%s: error %v, want an input error naming the line", name, err)
		}
	}
	if _, err := parseCSV(strings.NewReader(src), "l.csv", "", Options{Missing: "ignore"}); !errors.Is(err, ErrBadOption) {
		t.Errorf("bad missing policy: %v, want ErrBadOption", err)
	}
}
