package metric

import (
	"errors"
	"strings"
	"testing"
)

func TestReadPredictionsCSV(t *testing.T) {
	t.Parallel()
	in := "\ufeffimage, traffic light ,dog\nimgs/a.jpg,0.25,1\n b.jpg , 0 ,0.5\n"
	p, err := ReadPredictionsCSV(strings.NewReader(in), "p.csv")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Labels, "|") != "traffic light|dog" || strings.Join(p.Images, "|") != "imgs/a.jpg|b.jpg" {
		t.Fatalf("labels %q images %q", p.Labels, p.Images)
	}
	if p.Scores[0][0] != 0.25 || p.Scores[1][1] != 0.5 || p.Lines[1] != 3 {
		t.Errorf("scores %v lines %v", p.Scores, p.Lines)
	}
}

func TestReadPredictionsCSVErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"", "empty file"},
		{"file,a\nx,0.1\n", "wrong header"},
		{"image\nx\n", "wrong header"},
		{"image,a,a\nx,0.1,0.2\n", "header columns 2 and 3"},
		{"image,a,\nx,0.1,0.2\n", "empty label name"},
		{"image,a\nx,NaN\n", `p.csv:2: image "x", label "a": score NaN is not a probability`},
		{"image,a\nx,1.7\n", `score 1.7 is not a probability`},
		{"image,a\nx,-0.1\n", `score -0.1`},
		{"image,a\nx,high\n", `"high" is not a number`},
		{"image,a\nx,0.1\ny,0.2,0.3\n", "p.csv:3: 3 columns, want 2"},
		{"image,a\nx,0.1\nx,0.2\n", `image "x" already appears on line 2`},
		{"image,a\n", "no prediction rows"},
		{"image,a\n,0.1\n", "empty image name"},
	} {
		_, err := ReadPredictionsCSV(strings.NewReader(c.in), "p.csv")
		if err == nil || !errors.Is(err, ErrPredictions) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.in, err, c.want)
		}
	}
}

func TestAlign(t *testing.T) {
	t.Parallel()
	p, err := ReadPredictionsCSV(strings.NewReader("image,b,a\nx/1.jpg,0.1,0.2\n2.jpg,0.3,0.4\nz/3.jpg,0.5,0.6\n"), "p.csv")
	if err != nil {
		t.Fatal(err)
	}
	// Exact, base-name (unique) matches, any order; columns reordered.
	s, err := p.Align([]string{"y/2.jpg", "z/3.jpg", "x/1.jpg"}, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if s[0][0] != 0.4 || s[0][1] != 0.3 || s[1][0] != 0.6 || s[2][1] != 0.1 {
		t.Errorf("aligned %v", s)
	}
	for _, c := range []struct {
		images, labels []string
		want           string
	}{
		{[]string{"x/1.jpg", "2.jpg"}, []string{"a", "b"}, `not in the truth: z/3.jpg (line 4)`},
		{[]string{"x/1.jpg", "2.jpg", "z/3.jpg", "w.jpg"}, []string{"a", "b"}, `no prediction for 1 image(s) of the truth: "w.jpg"`},
		{[]string{"x/1.jpg", "2.jpg", "z/3.jpg"}, []string{"a"}, `unknown label column(s) "b"`},
		{[]string{"x/1.jpg", "2.jpg", "z/3.jpg"}, []string{"a", "b", "c d"}, `no column for label(s) "c d"`},
		// Two truth images share the base name 2.jpg with no exact match: ambiguous.
		{[]string{"x/1.jpg", "q/2.jpg", "r/2.jpg", "z/3.jpg"}, []string{"a", "b"}, `no prediction for 2 image(s)`},
	} {
		_, err := p.Align(c.images, c.labels)
		if err == nil || !errors.Is(err, ErrPredictions) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Align(%q, %q): %v, want %q", c.images, c.labels, err, c.want)
		}
	}
}

func FuzzReadPredictionsCSV(f *testing.F) {
	f.Add("image,a,b\nx.jpg,0.1,0.9\n")
	f.Add("image,a\nx,NaN\n")
	f.Add("image,\"a,b\"\n\"x\"\"y\",1e-3\n")
	f.Add("\ufeffimage,a\n1,0x1p-2\n")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ReadPredictionsCSV(strings.NewReader(in), "fuzz.csv")
		if err != nil {
			if !errors.Is(err, ErrPredictions) {
				t.Fatalf("error %v does not wrap ErrPredictions", err)
			}
			return
		}
		for i, row := range p.Scores {
			if len(row) != len(p.Labels) {
				t.Fatalf("row %d has %d scores for %d labels", i, len(row), len(p.Labels))
			}
			for _, v := range row {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("score %v escaped validation", v)
				}
			}
		}
		if _, err := p.Align(p.Images, p.Labels); err != nil {
			t.Fatalf("aligning with itself: %v", err)
		}
	})
}
