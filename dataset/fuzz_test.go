package dataset

import (
	"bytes"
	"testing"
)

// checkInvariants fails when a reader returned a dataset that breaks its contract.
func checkInvariants(t *testing.T, d *Dataset, err error) {
	t.Helper()
	if err != nil {
		if !IsBadInput(err) && d != nil {
			t.Fatalf("error %v with a dataset", err)
		}
		return
	}
	seen := map[string]bool{}
	for _, l := range d.Labels {
		if seen[l] {
			t.Fatalf("label %q twice in %q", l, d.Labels)
		}
		seen[l] = true
	}
	for _, s := range d.Samples {
		if len(s.Truth) != len(d.Labels) {
			t.Fatalf("sample %q: %d truth values for %d labels", s.Image, len(s.Truth), len(d.Labels))
		}
		for _, v := range s.Truth {
			if v != Positive && v != Negative && v != Unknown {
				t.Fatalf("sample %q: truth value %d", s.Image, v)
			}
		}
		if s.Image == "" {
			t.Fatal("empty image name accepted")
		}
	}
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("\ufeffimage,labels\r\na.jpg,\"cat,dog\"\r\nb.jpg,cat\r\n"), uint8(0))
	f.Add([]byte("image,cat,dog,\"big fish\"\na.jpg,1,0,?\nb.jpg,-1,,1\n"), uint8(0))
	f.Add([]byte("a.jpg,cat|dog\nb.jpg,dog\n"), uint8(1))
	f.Add([]byte("image,labels\na.jpg,x;y\n"), uint8(2))
	f.Add([]byte("image,labels\na.jpg,\"x\n"), uint8(3))
	f.Add([]byte("image,cat\na.jpg,1,0\n"), uint8(4))
	f.Add([]byte("\"\"\"\n,\n"), uint8(5))
	f.Add([]byte("image,labels\na.jpg,\"sea,-trees,?sun\"\nb.jpg,-\nc.jpg,\"?,-?x\"\n"), uint8(0x40))
	f.Add([]byte("image,labels\na.jpg,\"cat,-cat\"\n"), uint8(0xc0))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		if len(data) > 1<<16 {
			return
		}
		layouts := []string{"", "list", "onehot"}
		seps := []string{"", ",", "|", ";", " "}
		opt := Options{ListSep: seps[int(mode/3)%len(seps)]}
		if mode&0x80 != 0 {
			opt.Labels = []string{"cat", "dog"}
		}
		if mode&0x40 != 0 {
			opt.Missing = MissingUnknown
		}
		d, err := parseCSV(bytes.NewReader(data), "fuzz.csv", layouts[int(mode)%3], opt)
		checkInvariants(t, d, err)
	})
}

func FuzzCOCO(f *testing.F) {
	f.Add([]byte(`{"images":[{"id":7,"file_name":"a.jpg"},{"id":8,"file_name":"b.jpg"}],"categories":[{"id":90,"name":"zebra"},{"id":5,"name":"ant"}],"annotations":[{"image_id":7,"category_id":90}]}`), false)
	f.Add([]byte(`{"images":[{"id":1}],"categories":[]}`), true)
	f.Add([]byte(`{"images":[{"id":1,"file_name":"a"}],"categories":[{"id":1,"name":"x"}],"annotations":[{"image_id":1,"category_id":2}]}`), true)
	f.Add([]byte("{\"images\": [\n{\"id\": 1,}\n]}"), false)
	f.Add([]byte(`[]`), false)
	f.Fuzz(func(t *testing.T, data []byte, keep bool) {
		if len(data) > 1<<16 {
			return
		}
		d, err := parseCOCO(data, "fuzz.json", Options{KeepUnannotated: keep})
		checkInvariants(t, d, err)
	})
}

func FuzzVOC(f *testing.F) {
	f.Add([]byte("<annotation><filename>a.jpg</filename><object><name>dog</name><difficult>1</difficult></object></annotation>"))
	f.Add([]byte("<annotation>\n<object><name>dog</name>\n</annotation>\n"))
	f.Add([]byte("000001\n000002 -1\n\n../x\n"))
	f.Add([]byte("<annotation><object><difficult>2</difficult></object></annotation>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		img, objs, err := parseVOCXML(data, "fuzz.xml")
		if err == nil {
			for _, o := range objs {
				if o.name == "" {
					t.Fatalf("object without a name accepted (image %q)", img)
				}
			}
		} else if !IsBadInput(err) {
			t.Fatalf("XML error not an InputError: %v", err)
		}
		ids, err := parseImageSet(data, "fuzz.txt")
		if err == nil {
			for _, id := range ids {
				if id == "" || bytes.ContainsAny([]byte(id), `/\`) {
					t.Fatalf("image id %q accepted", id)
				}
			}
		}
	})
}
