package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/internal/sharedtest"
)

func writeFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// truthString renders samples compactly: "a.jpg:1,0,-1;b.jpg:..."
func truthString(d *Dataset) string {
	var b strings.Builder
	for _, s := range d.Samples {
		b.WriteString(s.Image)
		b.WriteString(":")
		for j, t := range s.Truth {
			if j > 0 {
				b.WriteString(",")
			}
			switch t {
			case Positive:
				b.WriteString("1")
			case Negative:
				b.WriteString("0")
			default:
				b.WriteString("?")
			}
		}
		b.WriteString(";")
	}
	return b.String()
}

func TestMIMLBothLayoutsIdentical(t *testing.T) {
	t.Parallel()
	dir := sharedtest.Dir(t, "data/miml-scenes")
	list, err := Load(filepath.Join(dir, "labels_list.csv"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	onehot, err := Load(filepath.Join(dir, "labels_onehot.csv"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if list.Format != "csv-list" || onehot.Format != "csv-onehot" {
		t.Errorf("formats %q, %q; want csv-list, csv-onehot", list.Format, onehot.Format)
	}
	want := []string{"desert", "mountains", "sea", "sunset", "trees"}
	if !reflect.DeepEqual(list.Labels, want) || !reflect.DeepEqual(onehot.Labels, want) {
		t.Fatalf("labels %v / %v, want %v", list.Labels, onehot.Labels, want)
	}
	if len(list.Samples) != 1500 || len(onehot.Samples) != 1500 {
		t.Fatalf("samples %d / %d, want 1500", len(list.Samples), len(onehot.Samples))
	}
	if !reflect.DeepEqual(list.Samples, onehot.Samples) {
		t.Fatal("the two layouts give different samples")
	}
	// Images resolve to the images/ folder beside the label files.
	if want := filepath.Join(dir, "images", list.Samples[0].Image); list.Samples[0].Path != want {
		t.Errorf("path %s, want %s", list.Samples[0].Path, want)
	}
	ra, err := Inspect(t.Context(), list, InspectOptions{SkipImages: true})
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := Inspect(t.Context(), onehot, InspectOptions{SkipImages: true})
	if !reflect.DeepEqual(ra.LabelCounts, rb.LabelCounts) {
		t.Errorf("label counts differ: %v vs %v", ra.LabelCounts, rb.LabelCounts)
	}
	if ra.Cardinality < 1.2 || ra.Cardinality > 1.3 {
		t.Errorf("cardinality %.3f, want ≈1.24", ra.Cardinality)
	}
	t.Logf("MIML label counts %v, cardinality %.4f, imbalance %.3f", ra.LabelCounts, ra.Cardinality, ra.ImbalanceRatio)
}

func TestCOCOMini(t *testing.T) {
	t.Parallel()
	dir := sharedtest.Dir(t, "data/coco-mini")
	tr, err := Load(filepath.Join(dir, "annotations", "instances_train2017.json"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Format != "coco" || len(tr.Samples) != 80 || len(tr.Labels) != 80 || len(tr.Unannotated) != 0 {
		t.Fatalf("train: format %s, %d samples, %d labels, %d unannotated; want coco, 80, 80, 0",
			tr.Format, len(tr.Samples), len(tr.Labels), len(tr.Unannotated))
	}
	// Ordered by category id: 1 person, 2 bicycle, ..., 90 toothbrush.
	if tr.Labels[0] != "person" || tr.Labels[1] != "bicycle" || tr.Labels[79] != "toothbrush" {
		t.Errorf("labels not ordered by id: %v ... %v", tr.Labels[:2], tr.Labels[79])
	}
	if want := filepath.Join(dir, "train2017", tr.Samples[0].Image); tr.Samples[0].Path != want {
		t.Errorf("path %s, want %s", tr.Samples[0].Path, want)
	}
	for _, s := range tr.Samples {
		if _, err := os.Stat(s.Path); err != nil {
			t.Fatalf("image of %s: %v", s.Image, err)
		}
	}

	val := filepath.Join(dir, "annotations", "instances_val2017.json")
	va, err := Load(val, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(va.Samples) != 79 || len(va.Unannotated) != 80 {
		t.Fatalf("val: %d annotated, %d unannotated; want 79, 80", len(va.Samples), len(va.Unannotated))
	}
	keep, err := Load(val, Options{KeepUnannotated: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(keep.Samples) != 159 {
		t.Fatalf("val with unannotated kept: %d samples, want 159", len(keep.Samples))
	}
	for _, s := range keep.Samples[79:] {
		for _, v := range s.Truth {
			if v != Negative {
				t.Fatalf("kept unannotated %s is not all-negative", s.Image)
			}
		}
	}
}

func TestCSVVariants(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, content string
		opt           Options
		format        string
		labels        []string
		truth         string
	}{
		{"list quoted comma, CRLF, BOM", "\ufeffimage,labels\r\na.jpg,\"cat,dog\"\r\nb.jpg,cat\r\nc.jpg,\r\n", Options{},
			"csv-list", []string{"cat", "dog"}, "a.jpg:1,1;b.jpg:1,0;c.jpg:0,0;"},
		{"list pipe, labels with spaces", "file,tags\nx.png,traffic light|person\ny.png,person\n", Options{},
			"csv-list", []string{"person", "traffic light"}, "x.png:1,1;y.png:1,0;"},
		{"list semicolon", "image,labels\na.jpg,b ; a\n", Options{},
			"csv-list", []string{"a", "b"}, "a.jpg:1,1;"},
		{"list spaces", "image,labels\na.jpg,b a\nb.jpg,c\n", Options{},
			"csv-list", []string{"a", "b", "c"}, "a.jpg:1,1,0;b.jpg:0,0,1;"},
		{"list space forced keeps commas", "image,labels\n\"my img.jpg\",\"x y\"\n", Options{ListSep: "space"},
			"csv-list", []string{"x", "y"}, "my img.jpg:1,1;"},
		{"list headerless, repeated rows merged", "a.jpg,cat\nb.jpg,dog\na.jpg,dog\n", Options{},
			"csv-list", []string{"cat", "dog"}, "a.jpg:1,1;b.jpg:0,1;"},
		{"list fixed vocabulary", "image,labels\na.jpg,dog\n", Options{Labels: []string{"dog", "cat"}},
			"csv-list", []string{"dog", "cat"}, "a.jpg:1,0;"},
		{"onehot unknowns", "image,cat,dog,bird,\"big fish\"\r\na.jpg,1,0,-1,?\r\nb.jpg, 0 ,1,,1\r\n\r\n", Options{},
			"csv-onehot", []string{"cat", "dog", "bird", "big fish"}, "a.jpg:1,0,?,?;b.jpg:0,1,?,1;"},
		{"onehot single label", "image,cat\na.jpg,1\nb.jpg,0\n", Options{},
			"csv-onehot", []string{"cat"}, "a.jpg:1;b.jpg:0;"},
		{"onehot reordered to vocabulary", "image,cat,dog\na.jpg,1,0\n", Options{Labels: []string{"dog", "cat"}},
			"csv-onehot", []string{"dog", "cat"}, "a.jpg:0,1;"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, filepath.Join(t.TempDir(), "l.csv"), c.content)
			d, err := Load(p, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			if d.Format != c.format || !reflect.DeepEqual(d.Labels, c.labels) || truthString(d) != c.truth {
				t.Fatalf("got %s %q %s; want %s %q %s", d.Format, d.Labels, truthString(d), c.format, c.labels, c.truth)
			}
		})
	}
}

func TestCSVErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, content string
		opt           Options
		line          int
		msg           string
	}{
		{"onehot extra value", "image,cat,dog\na.jpg,1,0\nb.jpg,1,0,1\n", Options{}, 3, "4 fields, header has 3"},
		{"onehot bad value", "image,cat,dog\na.jpg,1,yes\n", Options{}, 2, `label "dog": value "yes"`},
		{"onehot duplicate image", "image,cat,dog\na.jpg,1,0\na.jpg,0,0\n", Options{}, 3, "already listed on line 2"},
		{"onehot unknown label column", "image,cat,dog\na.jpg,1,0\n", Options{Labels: []string{"cat"}}, 1, `unknown label "dog"`},
		{"list unknown label", "image,labels\na.jpg,cat\nb.jpg,\"cat,cow\"\n", Options{Labels: []string{"cat", "dog"}}, 3, `unknown label "cow"`},
		{"list unquoted comma list", "image,labels\na.jpg,cat\nb.jpg,cat,dog\n", Options{}, 3, "3 fields, want 2"},
		{"bad quote", "image,labels\na.jpg,\"cat\n", Options{}, 2, "quote"},
		{"stray quote", "image,labels\na.jpg,ca\"t\n", Options{}, 2, "quote"},
		{"empty image", "image,labels\n,cat\n", Options{}, 2, "empty image"},
		{"header only one column", "image\na.jpg\n", Options{}, 1, "header has 1 column"},
		{"duplicate header label", "image,cat,cat\na.jpg,1,0\n", Options{}, 1, "header columns 2 and 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, filepath.Join(t.TempDir(), "l.csv"), c.content)
			_, err := Load(p, c.opt)
			var ie *InputError
			if !errors.As(err, &ie) || !IsBadInput(err) {
				t.Fatalf("error %v (%T), want *InputError", err, err)
			}
			if ie.File != p || ie.Line != c.line || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q (line %d), want %s:%d containing %q", err, ie.Line, p, c.line, c.msg)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "nope.csv"), Options{}); !IsBadInput(err) {
		t.Errorf("missing label file: %v, want bad input", err)
	}
}

func TestCOCOErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, content, msg string }{
		{"syntax", "{\"images\": [\n{\"id\": 1,}\n]}", ":2: "},
		{"type", "{\"images\": [{\"id\": \"x\"}], \"categories\": []}", ":1: "},
		{"unknown category", `{"images":[{"id":1,"file_name":"a.jpg"}],"categories":[{"id":3,"name":"cat"}],"annotations":[{"image_id":1,"category_id":4}]}`, "category_id 4"},
		{"unknown image", `{"images":[{"id":1,"file_name":"a.jpg"}],"categories":[{"id":3,"name":"cat"}],"annotations":[{"image_id":2,"category_id":3}]}`, "image_id 2"},
		{"duplicate name", `{"images":[],"categories":[{"id":3,"name":"cat"},{"id":4,"name":"cat"}]}`, `"cat" used by ids 3 and 4`},
		{"not coco", `{"foo": 1}`, "not a COCO instances file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, filepath.Join(t.TempDir(), "instances_x.json"), c.content)
			_, err := Load(p, Options{})
			if !IsBadInput(err) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v, want bad input containing %q", err, c.msg)
			}
		})
	}
	// Non-contiguous ids: vocabulary by name, ordered by id, whatever the file order.
	p := writeFile(t, filepath.Join(t.TempDir(), "c.json"), `{"images":[{"id":7,"file_name":"a.jpg"},{"id":8,"file_name":"b.jpg"}],
		"categories":[{"id":90,"name":"zebra"},{"id":5,"name":"ant"},{"id":17,"name":"cat"}],
		"annotations":[{"image_id":7,"category_id":90},{"image_id":7,"category_id":90},{"image_id":8,"category_id":5}]}`)
	d, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Labels, []string{"ant", "cat", "zebra"}) || truthString(d) != "a.jpg:0,0,1;b.jpg:1,0,0;" {
		t.Fatalf("got %v %s", d.Labels, truthString(d))
	}
}

// makeVOC writes a small VOC root: three images, one with a class present only as
// difficult objects, and one with a class both difficult and not.
func makeVOC(t *testing.T) string {
	root := filepath.Join(t.TempDir(), "VOCdevkit", "VOC2007")
	ann := func(file string, objs ...string) string {
		s := "<annotation>\n  <folder>VOC2007</folder>\n  <filename>" + file + "</filename>\n"
		for _, o := range objs {
			name, diff, _ := strings.Cut(o, ":")
			if diff == "" {
				diff = "0"
			}
			s += "  <object>\n    <name>" + name + "</name>\n    <pose>Left</pose>\n    <difficult>" + diff + "</difficult>\n  </object>\n"
		}
		return s + "</annotation>\n"
	}
	writeFile(t, filepath.Join(root, "Annotations", "000001.xml"), ann("000001.jpg", "dog", "person"))
	writeFile(t, filepath.Join(root, "Annotations", "000002.xml"), ann("000002.jpg", "cat:1", "cat:1", "person"))
	writeFile(t, filepath.Join(root, "Annotations", "000003.xml"), ann("000003.jpg", "car:1", "car:0"))
	writeFile(t, filepath.Join(root, "Annotations", "000004.xml"), ann("000004.jpg", "bus"))
	writeFile(t, filepath.Join(root, "ImageSets", "Main", "trainval.txt"), "000001\n000002\n000003\n")
	writeFile(t, filepath.Join(root, "ImageSets", "Main", "test.txt"), "000004\n\n")
	writeFile(t, filepath.Join(root, "ImageSets", "Main", "cat_trainval.txt"), "000001 -1\n000002  0\n000003 -1\n")
	return root
}

func TestVOC(t *testing.T) {
	t.Parallel()
	root := makeVOC(t)
	// Given the devkit folder, Load finds the single VOC root below it.
	d, err := Load(filepath.Dir(root), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Format != "voc" || d.Source != root || len(d.Labels) != 20 || len(d.Samples) != 3 {
		t.Fatalf("format %s source %s, %d labels, %d samples", d.Format, d.Source, len(d.Labels), len(d.Samples))
	}
	get := func(i int, label string) int8 { return d.Samples[i].Truth[d.LabelIndex(label)] }
	if get(0, "dog") != Positive || get(0, "person") != Positive || get(0, "cat") != Negative {
		t.Errorf("image 1: %v", d.Samples[0].Truth)
	}
	if get(1, "cat") != Unknown || get(1, "person") != Positive {
		t.Errorf("image 2: cat only difficult must be unknown: %v", d.Samples[1].Truth)
	}
	if get(2, "car") != Positive {
		t.Errorf("image 3: car difficult and not must be positive: %v", d.Samples[2].Truth)
	}
	if want := filepath.Join(root, "JPEGImages", "000001.jpg"); d.Samples[0].Path != want {
		t.Errorf("path %s, want %s", d.Samples[0].Path, want)
	}
	test, err := Load(root, Options{VOCImageSet: "test"})
	if err != nil || len(test.Samples) != 1 || test.Samples[0].Image != "000004.jpg" {
		t.Fatalf("test set: %v %+v", err, test)
	}
	// Non-VOC class names: the vocabulary is the sorted names seen.
	writeFile(t, filepath.Join(root, "Annotations", "000005.xml"), "<annotation><object><name>unicorn</name></object></annotation>")
	all, err := Load(root, Options{VOCImageSet: "", Format: "voc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Samples) != 3 { // trainval.txt still wins
		t.Fatalf("%d samples", len(all.Samples))
	}
	os.Remove(filepath.Join(root, "ImageSets", "Main", "trainval.txt"))
	all, err = Load(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Samples) != 5 || !reflect.DeepEqual(all.Labels, []string{"bus", "car", "cat", "dog", "person", "unicorn"}) ||
		all.Samples[4].Image != "000005.jpg" {
		t.Fatalf("all annotations: %d samples, labels %v", len(all.Samples), all.Labels)
	}
	// Errors name the file and line.
	bad := writeFile(t, filepath.Join(root, "Annotations", "000006.xml"), "<annotation>\n<object><name>dog</name>\n</annotation>\n")
	_, err = Load(root, Options{})
	var ie *InputError
	if !errors.As(err, &ie) || ie.File != bad || ie.Line != 3 {
		t.Fatalf("malformed XML: %v", err)
	}
	writeFile(t, filepath.Join(root, "ImageSets", "Main", "val.txt"), "000001\n000009\n")
	_, err = Load(root, Options{VOCImageSet: "val"})
	if !IsBadInput(err) || !strings.Contains(err.Error(), "000009.xml") {
		t.Fatalf("missing annotation: %v", err)
	}
}

func TestLoadUnknownFormat(t *testing.T) {
	t.Parallel()
	if _, err := Load(t.TempDir(), Options{}); !IsBadInput(err) {
		t.Fatalf("plain directory: %v", err)
	}
	p := writeFile(t, filepath.Join(t.TempDir(), "l.csv"), "image,labels\n")
	if _, err := Load(p, Options{Labels: []string{"a", "a"}}); err == nil {
		t.Fatal("duplicate vocabulary accepted")
	}
}

// TestReaderConformance runs every reader's output through the same contract: valid
// truth values, a CSV round trip that preserves labels and truth, and a split that
// partitions the samples.
func TestReaderConformance(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sources := map[string]string{
		"csv-list":   writeFile(t, filepath.Join(dir, "list.csv"), "image,labels\na.jpg,\"x,y z\"\nb.jpg,y z\nc.jpg,\nd.jpg,x\n"),
		"csv-onehot": writeFile(t, filepath.Join(dir, "onehot.csv"), "image,x,y z\na.jpg,1,1\nb.jpg,0,1\nc.jpg,?,0\nd.jpg,1,\n"),
		"coco": writeFile(t, filepath.Join(dir, "coco.json"), `{"images":[{"id":1,"file_name":"a.jpg"},{"id":2,"file_name":"b.jpg"},{"id":3,"file_name":"c.jpg"}],
			"categories":[{"id":9,"name":"y z"},{"id":2,"name":"x"}],"annotations":[{"image_id":1,"category_id":9},{"image_id":2,"category_id":2}]}`),
		"voc": makeVOC(t),
	}
	for format, src := range sources {
		t.Run(format, func(t *testing.T) {
			d, err := Load(src, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, d, nil)
			if d.Format != format || len(d.Samples) < 2 {
				t.Fatalf("format %s, %d samples", d.Format, len(d.Samples))
			}
			for _, s := range d.Samples {
				if s.Path == "" || !filepath.IsAbs(s.Path) && !strings.HasPrefix(s.Path, dir) {
					t.Errorf("sample %s: path %q not resolved", s.Image, s.Path)
				}
			}
			p := filepath.Join(t.TempDir(), "rt.csv")
			if err := WriteCSV(p, d); err != nil {
				t.Fatal(err)
			}
			back, err := Load(p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Labels, d.Labels) || truthString(back) != truthString(d) {
				t.Fatalf("round trip changed the data:\n%v %s\n%v %s", d.Labels, truthString(d), back.Labels, truthString(back))
			}
			parts, err := IterativeStratify(d, []float64{0.5, 0.5}, 3)
			if err != nil || len(parts[0])+len(parts[1]) != len(d.Samples) {
				t.Fatalf("split: %v %v", parts, err)
			}
		})
	}
}
