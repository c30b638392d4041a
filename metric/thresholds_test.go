package metric

import (
	"errors"
	"strings"
	"testing"
)

func TestParseThresholds(t *testing.T) {
	t.Parallel()
	labels := []string{"cat", "traffic light"}
	for _, in := range []string{
		`{"traffic light": 0.25, "cat": 0.75}`,
		`{"mAP": 0.9, "thresholds": {"cat": 0.75, "traffic light": 0.25}}`,
		"label,threshold\n# tuned\ncat,0.75\n\ntraffic light , 0.25\n",
	} {
		th, err := ParseThresholds([]byte(in), "th", labels)
		if err != nil || len(th) != 2 || th[0] != 0.75 || th[1] != 0.25 {
			t.Errorf("%q: %v, %v", in, th, err)
		}
	}
	for _, c := range []struct{ in, want string }{
		{`{"cat": 0.75}`, `no threshold for label "traffic light"`},
		{`{"cat": 0.75, "traffic light": 0.2, "dog": 0.1}`, `unknown label "dog"`},
		{`{"cat": "x", "traffic light": 0.2}`, `not a number`},
		{"cat,0.75\ntraffic light,1.5\n", `threshold 1.5 is not in [0,1]`},
		{"cat,0.75\ncat,0.5\n", `th:2: label "cat" given twice`},
		{"cat 0.75\n", `th:1: want label,threshold`},
		{`{"cat": `, `th: unexpected end`},
	} {
		_, err := ParseThresholds([]byte(c.in), "th", labels)
		if err == nil || !errors.Is(err, ErrThresholds) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.in, err, c.want)
		}
	}
}

func FuzzParseThresholds(f *testing.F) {
	f.Add([]byte(`{"a": 0.5, "b c": 0.1}`))
	f.Add([]byte("a,0.5\nb c,0.1\n"))
	f.Add([]byte(`{"thresholds": {"a": 1, "b c": 0}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		th, err := ParseThresholds(in, "fuzz", []string{"a", "b c"})
		if err != nil {
			if !errors.Is(err, ErrThresholds) {
				t.Fatalf("error %v does not wrap ErrThresholds", err)
			}
			return
		}
		for _, v := range th {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("threshold %v escaped validation", v)
			}
		}
	})
}
