package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

type cocoFile struct {
	Images []struct {
		ID       *int64 `json:"id"`
		FileName string `json:"file_name"`
	} `json:"images"`
	Annotations []struct {
		ImageID    *int64 `json:"image_id"`
		CategoryID *int64 `json:"category_id"`
	} `json:"annotations"`
	Categories []struct {
		ID   *int64 `json:"id"`
		Name string `json:"name"`
	} `json:"categories"`
}

// parseCOCO reads a COCO instances JSON document. The vocabulary is the category names
// ordered by category id; an image's label is positive when it has at least one
// annotation of that category (crowd annotations included), negative otherwise.
func parseCOCO(data []byte, name string, opt Options) (*Dataset, error) {
	// Counted before decoding: a million categories are refused before they are
	// allocated.
	if err := checkLabelCount(name, 0, cocoCategoryCount(data), "categories", opt); err != nil {
		return nil, err
	}
	var f cocoFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, jsonError(data, name, err)
	}
	if f.Categories == nil || f.Images == nil {
		return nil, inputErrorf(name, 0, "not a COCO instances file: want \"images\" and \"categories\" arrays")
	}
	if err := checkLabelCount(name, 0, len(f.Categories), "categories", opt); err != nil {
		return nil, err
	}
	type cat struct {
		id   int64
		name string
	}
	cats := make([]cat, 0, len(f.Categories))
	byName := map[string]int64{}
	byID := map[int64]bool{}
	for i, c := range f.Categories {
		if c.ID == nil {
			return nil, inputErrorf(name, 0, "categories[%d]: no id", i)
		}
		n := strings.TrimSpace(c.Name)
		if n == "" {
			return nil, inputErrorf(name, 0, "categories[%d] (id %d): empty name", i, *c.ID)
		}
		if byID[*c.ID] {
			return nil, inputErrorf(name, 0, "categories[%d]: duplicate category id %d", i, *c.ID)
		}
		if prev, dup := byName[n]; dup {
			return nil, inputErrorf(name, 0, "categories[%d]: name %q used by ids %d and %d", i, n, prev, *c.ID)
		}
		byID[*c.ID] = true
		byName[n] = *c.ID
		cats = append(cats, cat{*c.ID, n})
	}
	sort.Slice(cats, func(a, b int) bool { return cats[a].id < cats[b].id })
	var labels []string
	if opt.Labels != nil {
		labels = append([]string(nil), opt.Labels...)
		vocab := indexOf(labels)
		for _, c := range cats {
			if _, ok := vocab[c.name]; !ok {
				return nil, inputErrorf(name, 0, "unknown label %q (category id %d) (vocabulary: %s)", c.name, c.id, strings.Join(labels, ", "))
			}
		}
	} else {
		labels = make([]string, len(cats))
		for i, c := range cats {
			labels[i] = c.name
		}
	}
	vocab := indexOf(labels)
	catIndex := make(map[int64]int, len(cats))
	for _, c := range cats {
		catIndex[c.id] = vocab[c.name]
	}

	imgIndex := make(map[int64]int, len(f.Images))
	truths := make([][]int8, len(f.Images))
	seenFile := map[string]bool{}
	for i, im := range f.Images {
		if im.ID == nil {
			return nil, inputErrorf(name, 0, "images[%d]: no id", i)
		}
		if strings.TrimSpace(im.FileName) == "" {
			return nil, inputErrorf(name, 0, "images[%d] (id %d): empty file_name", i, *im.ID)
		}
		if _, dup := imgIndex[*im.ID]; dup {
			return nil, inputErrorf(name, 0, "images[%d]: duplicate image id %d", i, *im.ID)
		}
		if seenFile[im.FileName] {
			return nil, inputErrorf(name, 0, "images[%d]: file_name %q listed twice", i, im.FileName)
		}
		seenFile[im.FileName] = true
		imgIndex[*im.ID] = i
	}
	for k, a := range f.Annotations {
		if a.ImageID == nil || a.CategoryID == nil {
			return nil, inputErrorf(name, 0, "annotations[%d]: want image_id and category_id", k)
		}
		i, ok := imgIndex[*a.ImageID]
		if !ok {
			return nil, inputErrorf(name, 0, "annotations[%d]: image_id %d is not in images", k, *a.ImageID)
		}
		j, ok := catIndex[*a.CategoryID]
		if !ok {
			return nil, inputErrorf(name, 0, "annotations[%d]: category_id %d is not in categories", k, *a.CategoryID)
		}
		if truths[i] == nil {
			truths[i] = make([]int8, len(labels))
		}
		truths[i][j] = Positive
	}
	d := &Dataset{Labels: labels, Format: "coco"}
	for i, im := range f.Images {
		t := truths[i]
		if t == nil {
			d.Unannotated = append(d.Unannotated, im.FileName)
			if !opt.KeepUnannotated {
				continue
			}
			t = make([]int8, len(labels))
		}
		d.Samples = append(d.Samples, Sample{Image: im.FileName, Truth: t})
	}
	return d, nil
}

// jsonError turns an encoding/json error into an *InputError with the line it happened on.
func jsonError(data []byte, name string, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
		if te.Field != "" {
			err = fmt.Errorf("field %s: %w", te.Field, err)
		}
	}
	if off < 0 || off > int64(len(data)) {
		return &InputError{File: name, Err: err}
	}
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	return &InputError{File: name, Line: line, Err: err}
}
