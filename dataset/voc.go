package dataset

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// vocClasses are the 20 Pascal VOC classes in the challenge's order (alphabetical).
var vocClasses = []string{
	"aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
	"diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
	"train", "tvmonitor",
}

// vocRoot returns the VOC root at or just below dir (a VOCdevkit holding exactly one
// VOC20xx folder), or "".
func vocRoot(dir string) string {
	isRoot := func(p string) bool {
		st, err := os.Stat(filepath.Join(p, "Annotations"))
		return err == nil && st.IsDir()
	}
	if isRoot(dir) {
		return dir
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var found []string
	for _, e := range entries {
		if e.IsDir() && isRoot(filepath.Join(dir, e.Name())) {
			found = append(found, filepath.Join(dir, e.Name()))
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	return ""
}

type vocObject struct {
	name      string
	difficult bool
}

type vocXML struct {
	XMLName  xml.Name `xml:"annotation"`
	Filename string   `xml:"filename"`
	Objects  []struct {
		Name      string `xml:"name"`
		Difficult string `xml:"difficult"`
	} `xml:"object"`
}

// parseVOCXML reads one VOC annotation file: the image file name and its objects.
func parseVOCXML(data []byte, name string) (string, []vocObject, error) {
	var a vocXML
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	if err := dec.Decode(&a); err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return "", nil, &InputError{File: name, Line: se.Line, Err: errors.New(se.Msg)}
		}
		line, _ := dec.InputPos()
		return "", nil, &InputError{File: name, Line: line, Err: err}
	}
	objs := make([]vocObject, 0, len(a.Objects))
	for i, o := range a.Objects {
		n := strings.TrimSpace(o.Name)
		if n == "" {
			return "", nil, inputErrorf(name, 0, "object %d has no name", i+1)
		}
		var diff bool
		switch strings.TrimSpace(o.Difficult) {
		case "", "0", "false":
		case "1", "true":
			diff = true
		default:
			return "", nil, inputErrorf(name, 0, "object %d (%s): difficult %q is not 0 or 1", i+1, n, o.Difficult)
		}
		objs = append(objs, vocObject{name: n, difficult: diff})
	}
	return strings.TrimSpace(a.Filename), objs, nil
}

// parseImageSet reads an ImageSets/Main/*.txt list: one image id per line (a second
// column, as in the per-class lists, is ignored).
func parseImageSet(data []byte, name string) ([]string, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	seen := map[string]int{}
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		id := f[0]
		if strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
			return nil, inputErrorf(name, line, "image id %q is not a plain name", id)
		}
		if prev, dup := seen[id]; dup {
			return nil, inputErrorf(name, line, "image id %q already on line %d", id, prev)
		}
		seen[id] = line
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, inputErrorf(name, line+1, "%v", err)
	}
	return ids, nil
}

// loadVOC reads a Pascal VOC root: ImageSets/Main/<set>.txt names the images,
// Annotations/<id>.xml gives their objects. A class present only as difficult objects is
// Unknown for that image, as in VOC's evaluation.
func loadVOC(path string, opt Options) (*Dataset, error) {
	root := vocRoot(path)
	if root == "" {
		return nil, inputErrorf(path, 0, "not a Pascal VOC root (no Annotations folder)")
	}
	annDir := filepath.Join(root, "Annotations")
	var ids []string
	set := opt.VOCImageSet
	if set == "" && exists(filepath.Join(root, "ImageSets", "Main", "trainval.txt")) {
		set = "trainval"
	}
	if set != "" {
		if strings.ContainsAny(set, `/\`) {
			return nil, fmt.Errorf("%w: VOC image set %q is not a plain name", ErrBadOption, set)
		}
		setFile := filepath.Join(root, "ImageSets", "Main", set+".txt")
		data, err := os.ReadFile(setFile)
		if err != nil {
			return nil, &InputError{File: setFile, Err: err}
		}
		if ids, err = parseImageSet(data, setFile); err != nil {
			return nil, err
		}
	} else {
		entries, err := os.ReadDir(annDir)
		if err != nil {
			return nil, &InputError{File: annDir, Err: err}
		}
		for _, e := range entries {
			if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".xml") {
				ids = append(ids, strings.TrimSuffix(e.Name(), filepath.Ext(e.Name())))
			}
		}
	}
	type rec struct {
		image string
		objs  []vocObject
	}
	recs := make([]rec, len(ids))
	names := map[string]bool{}
	for i, id := range ids {
		file := filepath.Join(annDir, id+".xml")
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, &InputError{File: file, Err: err}
		}
		img, objs, err := parseVOCXML(data, file)
		if err != nil {
			return nil, err
		}
		if img == "" {
			img = id + ".jpg"
		}
		recs[i] = rec{img, objs}
		for _, o := range objs {
			names[o.name] = true
		}
		if err := checkLabelCount(file, 0, len(names), "the annotations up to this file", opt); err != nil {
			return nil, err
		}
	}
	labels := vocVocabulary(names, opt.Labels)
	vocab := indexOf(labels)
	d := &Dataset{Labels: labels, Format: "voc", Source: root}
	for i, r := range recs {
		t := make([]int8, len(labels))
		for _, o := range r.objs {
			j, ok := vocab[o.name]
			if !ok {
				return nil, inputErrorf(filepath.Join(annDir, ids[i]+".xml"), 0, "unknown label %q (vocabulary: %s)", o.name, strings.Join(labels, ", "))
			}
			if !o.difficult {
				t[j] = Positive
			} else if t[j] != Positive {
				t[j] = Unknown
			}
		}
		d.Samples = append(d.Samples, Sample{Image: r.image, Truth: t})
	}
	dir := opt.ImagesDir
	if dir == "" {
		dir = filepath.Join(root, "JPEGImages")
	}
	resolvePaths(d, dir)
	return d, nil
}

// vocVocabulary is the given vocabulary, else the 20 VOC classes when every name seen is
// one of them (so train and val subsets agree), else the sorted names seen.
func vocVocabulary(names map[string]bool, given []string) []string {
	if given != nil {
		return append([]string(nil), given...)
	}
	std := indexOf(vocClasses)
	all := true
	for n := range names {
		if _, ok := std[n]; !ok {
			all = false
			break
		}
	}
	if all {
		return append([]string(nil), vocClasses...)
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
