package dataset

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r strings.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestMaxLabelsCSV: a one-hot header wider than the bound is refused at the header,
// before the rows are read (once: a 1M-column CSV drove train to 24 GB).
func TestMaxLabelsCSV(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("image")
	for i := range DefaultMaxLabels + 1 {
		fmt.Fprintf(&b, ",l%d", i)
	}
	b.WriteString("\n")
	header := b.Len()
	row := "a.jpg" + strings.Repeat(",0", DefaultMaxLabels+1) + "\n"
	for range 20 {
		b.WriteString(row)
	}
	cr := &countingReader{r: *strings.NewReader(b.String())}
	_, err := parseCSV(cr, "wide.csv", "", Options{})
	if err == nil || !IsBadInput(err) || !strings.Contains(err.Error(), "more than the maximum 100000") {
		t.Fatalf("parseCSV = %v, want a bad-input error naming the maximum", err)
	}
	// bufio reads ahead at most 4 KiB past the header line.
	if cr.n > header+64<<10 {
		t.Errorf("read %d bytes of %d; the header is %d", cr.n, b.Len(), header)
	}
	// Settable: the same header passes with a larger bound, and a small one is refused.
	p := writeFile(t, filepath.Join(t.TempDir(), "l.csv"), "image,a,b,c\nx.jpg,1,0,1\n")
	if _, err := Load(p, Options{MaxLabels: 2}); !IsBadInput(err) {
		t.Errorf("3 labels under MaxLabels 2: %v", err)
	}
	if _, err := Load(p, Options{MaxLabels: 3}); err != nil {
		t.Errorf("3 labels under MaxLabels 3: %v", err)
	}
	// List layout: the distinct labels are counted before truth rows are allocated.
	p = writeFile(t, filepath.Join(t.TempDir(), "list.csv"), "image,labels\nx.jpg,a b c\ny.jpg,d\n")
	if _, err := Load(p, Options{MaxLabels: 3}); !IsBadInput(err) || !strings.Contains(err.Error(), "4 labels") {
		t.Errorf("list with 4 labels under MaxLabels 3: %v", err)
	}
	if _, err := Load(p, Options{Labels: []string{"a", "b", "c", "d"}, MaxLabels: 3}); !errors.Is(err, ErrBadOption) {
		t.Errorf("a 4-label vocabulary under MaxLabels 3: %v", err)
	}
}

// TestMaxLabelsCOCO: a COCO file with more categories than the bound is refused before
// truth rows are allocated (once: 1M categories gave "fatal error: out of memory").
func TestMaxLabelsCOCO(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"images":[{"id":1,"file_name":"a.jpg"}],"annotations":[],"categories":[`)
	for i := range DefaultMaxLabels + 1 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"c%d"}`, i, i)
	}
	b.WriteString("]}")
	_, err := parseCOCO([]byte(b.String()), "big.json", Options{})
	if err == nil || !IsBadInput(err) || !strings.Contains(err.Error(), "categories declares 100001 labels") {
		t.Fatalf("parseCOCO = %v", err)
	}
}

// TestMaxLabelsVOC: distinct VOC object names are bounded too.
func TestMaxLabelsVOC(t *testing.T) {
	t.Parallel()
	root := vocWithLabels(t, 50)
	if _, err := Load(root, Options{MaxLabels: 49}); !IsBadInput(err) {
		t.Fatalf("50 VOC labels under MaxLabels 49: %v", err)
	}
	if d, err := Load(root, Options{MaxLabels: 50}); err != nil || len(d.Labels) != 50 {
		t.Fatalf("50 VOC labels under MaxLabels 50: %v", err)
	}
}

// vocWithLabels writes a VOC root with one image holding n distinct labels.
func vocWithLabels(t *testing.T, n int) string {
	root := filepath.Join(t.TempDir(), "VOC")
	var s strings.Builder
	s.WriteString("<annotation><filename>1.jpg</filename>")
	for i := range n {
		fmt.Fprintf(&s, "<object><name>l%05d</name><difficult>0</difficult></object>", i)
	}
	s.WriteString("</annotation>")
	writeFile(t, filepath.Join(root, "Annotations", "1.xml"), s.String())
	return root
}

// TestInspectPairsBounded: one image with 10,000 labels (once 72 s and 4.2 GB for its
// 50 million pairs) counts only the pairs among its MaxPairLabelsPerImage most frequent
// labels, and says so.
func TestInspectPairsBounded(t *testing.T) {
	t.Parallel()
	root := vocWithLabels(t, 10_000)
	d, err := Load(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A second image makes l09999 and l09998 the most frequent labels.
	truth := make([]int8, len(d.Labels))
	truth[9998], truth[9999] = Positive, Positive
	d.Samples = append(d.Samples, Sample{Image: "2.jpg", Truth: truth})
	r, err := Inspect(context.Background(), d, InspectOptions{SkipImages: true, TopPairs: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.PairImagesCapped != 1 || r.PairsCapped {
		t.Errorf("PairImagesCapped %d PairsCapped %v, want 1 false", r.PairImagesCapped, r.PairsCapped)
	}
	if len(r.TopPairs) != 3 || r.TopPairs[0] != (Pair{A: "l09998", B: "l09999", Count: 2}) {
		t.Errorf("top pairs %v", r.TopPairs)
	}
	var out strings.Builder
	if err := r.WriteText(&out); err != nil || !strings.Contains(out.String(), "most frequent labels only") {
		t.Errorf("text report does not say pairs were capped (%v)", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Inspect(ctx, d, InspectOptions{SkipImages: true}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Inspect: %v", err)
	}
}

func TestJSONArrayLen(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{
		`[]`: 0, ` [ ] `: 0, `[1]`: 1, `[{"a":[1,2,3]},{"b":"x,y]"}]`: 2, `["\"],"]`: 1, `{"x":1}`: 0, `[[],[]]`: 2,
	} {
		var n jsonArrayLen
		if err := n.UnmarshalJSON([]byte(in)); err != nil || int(n) != want {
			t.Errorf("%s: %d %v, want %d", in, n, err, want)
		}
	}
	if n := cocoCategoryCount([]byte(`{"images":[{"id":1}],"categories":[{"id":1,"name":"a"},{"id":2,"name":"b"}]}`)); n != 2 {
		t.Errorf("cocoCategoryCount = %d", n)
	}
}

func TestCSVHeaderFields(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{
		"image,a,b\nx,1,0\n": 3, "\ufeffimage,labels\n": 2, `image,"a,b",c` + "\n": 3, "a": 1, `"x""y,z",q` + "\n": 2,
	} {
		if got := csvHeaderFields([]byte(in)); got != want {
			t.Errorf("%q: %d, want %d", in, got, want)
		}
	}
}

func TestLoadContextCancelled(t *testing.T) {
	t.Parallel()
	p := writeFile(t, filepath.Join(t.TempDir(), "l.csv"), "image,labels\na.jpg,cat\n")
	ctx, cancel := context.WithCancel(context.Background())
	if d, err := LoadContext(ctx, p, Options{}); err != nil || len(d.Samples) != 1 {
		t.Fatalf("LoadContext = %v", err)
	}
	cancel()
	if _, err := LoadContext(ctx, p, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
