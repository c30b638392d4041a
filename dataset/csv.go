package dataset

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/multilabel/multilabel/imageio"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Column names that announce the list layout in a two-column CSV.
var listColumnNames = map[string]bool{
	"labels": true, "label": true, "tags": true, "tag": true, "classes": true,
	"class": true, "categories": true, "category": true, "targets": true, "target": true,
}

type csvRow struct {
	line   int
	fields []string
}

// parseCSV reads a CSV label file. layout is "list", "onehot" or "" (detect).
func parseCSV(r io.Reader, name, layout string, opt Options) (*Dataset, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, utf8BOM) {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var rows []csvRow
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &InputError{File: name, Line: pe.Line, Err: pe.Err}
			}
			return nil, &InputError{File: name, Err: err}
		}
		line, _ := cr.FieldPos(0)
		if len(rows) == 0 && len(rec) > 1 {
			// The header's width is the vocabulary of a one-hot file: refuse a huge
			// one before reading the rows.
			if err := checkLabelCount(name, line, len(rec)-1, "the header", opt); err != nil {
				return nil, err
			}
		}
		blank := true
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
			if rec[i] != "" {
				blank = false
			}
		}
		if blank {
			continue
		}
		rows = append(rows, csvRow{line: line, fields: rec})
	}
	if len(rows) == 0 {
		return nil, inputErrorf(name, 0, "no rows: want a header such as image,labels or image,cat,dog,...")
	}
	var header []string
	data := rows
	headerless := layout != "onehot" && imageio.HasImageExt(rows[0].fields[0]) &&
		(len(rows[0].fields) == 2 || layout == "list")
	if !headerless {
		header = rows[0].fields
		data = rows[1:]
		if len(header) < 2 {
			return nil, inputErrorf(name, rows[0].line, "header has %d column; want image,labels or image,<label>,<label>,...", len(header))
		}
	}
	if layout == "" {
		layout = detectCSVLayout(header, data, opt)
	}
	switch layout {
	case "onehot":
		if header == nil {
			return nil, inputErrorf(name, rows[0].line, "one-hot layout needs a header row image,<label>,...")
		}
		return parseOneHot(name, rows[0].line, header, data, opt)
	case "list":
		return parseList(name, header, data, opt)
	}
	return nil, fmt.Errorf("%w: unknown CSV layout %q", ErrBadOption, layout)
}

func detectCSVLayout(header []string, data []csvRow, opt Options) string {
	if header == nil || opt.ListSep != "" {
		return "list"
	}
	if len(header) > 2 {
		return "onehot"
	}
	if listColumnNames[strings.ToLower(header[1])] {
		return "list"
	}
	// Two columns with a label-like name: one-hot with one label if every value is a
	// one-hot value, a list otherwise.
	for _, r := range data {
		if len(r.fields) < 2 {
			continue
		}
		if _, ok := oneHotValue(r.fields[1]); !ok {
			return "list"
		}
	}
	return "onehot"
}

// oneHotValue parses one cell of a one-hot row.
func oneHotValue(s string) (int8, bool) {
	switch s {
	case "1", "1.0", "+1":
		return Positive, true
	case "0", "0.0":
		return Negative, true
	case "-1", "-1.0", "", "?":
		return Unknown, true
	}
	return 0, false
}

func parseOneHot(name string, headerLine int, header []string, data []csvRow, opt Options) (*Dataset, error) {
	cols := header[1:]
	seen := map[string]int{}
	for i, l := range cols {
		if l == "" {
			return nil, inputErrorf(name, headerLine, "header column %d has no label name", i+2)
		}
		if j, dup := seen[l]; dup {
			return nil, inputErrorf(name, headerLine, "label %q appears in header columns %d and %d", l, j+2, i+2)
		}
		seen[l] = i
	}
	labels := cols
	colTo := make([]int, len(cols)) // column -> vocabulary index
	for i := range colTo {
		colTo[i] = i
	}
	if opt.Labels != nil {
		labels = opt.Labels
		vocab := indexOf(opt.Labels)
		for i, l := range cols {
			j, ok := vocab[l]
			if !ok {
				return nil, inputErrorf(name, headerLine, "unknown label %q in header (vocabulary: %s)", l, strings.Join(opt.Labels, ", "))
			}
			colTo[i] = j
		}
		for _, l := range opt.Labels {
			if _, ok := seen[l]; !ok {
				return nil, inputErrorf(name, headerLine, "label %q of the vocabulary has no column", l)
			}
		}
	}
	d := &Dataset{Labels: append([]string(nil), labels...), Format: "csv-onehot"}
	images := map[string]int{}
	for _, r := range data {
		if len(r.fields) != len(header) {
			return nil, inputErrorf(name, r.line, "%d fields, header has %d (a value without a label column, or a missing value)", len(r.fields), len(header))
		}
		img := r.fields[0]
		if img == "" {
			return nil, inputErrorf(name, r.line, "empty image name")
		}
		if prev, dup := images[img]; dup {
			return nil, inputErrorf(name, r.line, "image %q already listed on line %d", img, prev)
		}
		images[img] = r.line
		truth := make([]int8, len(labels))
		for i, v := range r.fields[1:] {
			t, ok := oneHotValue(v)
			if !ok {
				return nil, inputErrorf(name, r.line, "label %q: value %q is not 1, 0, -1, ? or empty", cols[i], v)
			}
			truth[colTo[i]] = t
		}
		d.Samples = append(d.Samples, Sample{Image: img, Truth: truth})
	}
	return d, nil
}

// normListSep maps the accepted spellings of a list separator to the separator.
func normListSep(s string) (string, error) {
	switch s {
	case "", ",", "|", ";", " ":
		return s, nil
	case "space", "\\s":
		return " ", nil
	case "comma":
		return ",", nil
	case "pipe":
		return "|", nil
	case "semicolon":
		return ";", nil
	}
	return "", fmt.Errorf("%w: list separator %q: want \",\", \"|\", \";\" or \"space\"", ErrBadOption, s)
}

func splitList(s, sep string) []string {
	var parts []string
	if sep == " " {
		parts = strings.Fields(s)
	} else {
		parts = strings.Split(s, sep)
	}
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseList(name string, header []string, data []csvRow, opt Options) (*Dataset, error) {
	sep, err := normListSep(opt.ListSep)
	if err != nil {
		return nil, err
	}
	if header != nil && len(header) != 2 {
		return nil, inputErrorf(name, 0, "list layout wants two columns (image,labels), header has %d", len(header))
	}
	if sep == "" {
		sep = detectListSep(data)
	}
	missing, err := missingValue(opt.Missing)
	if err != nil {
		return nil, err
	}
	type entry struct {
		line   int
		image  string
		labels []string
	}
	var entries []entry
	byImage := map[string]int{}
	for _, r := range data {
		if len(r.fields) != 2 {
			return nil, inputErrorf(name, r.line, "%d fields, want 2 (image,labels); quote a comma-separated label list", len(r.fields))
		}
		img := r.fields[0]
		if img == "" {
			return nil, inputErrorf(name, r.line, "empty image name")
		}
		ls := splitList(r.fields[1], sep)
		if k, dup := byImage[img]; dup {
			// Repeated rows of one image (one row per label) are merged.
			entries[k].labels = append(entries[k].labels, ls...)
			continue
		}
		byImage[img] = len(entries)
		entries = append(entries, entry{line: r.line, image: img, labels: ls})
	}
	var labels []string
	var vocab map[string]int
	if opt.Labels != nil {
		labels = append([]string(nil), opt.Labels...)
		vocab = indexOf(labels)
		for _, e := range entries {
			for _, l := range e.labels {
				if _, ok := vocab[listLabel(l)]; !ok {
					return nil, inputErrorf(name, e.line, "unknown label %q (vocabulary: %s)", l, strings.Join(labels, ", "))
				}
			}
		}
	} else {
		set := map[string]bool{}
		for _, e := range entries {
			for _, l := range e.labels {
				set[listLabel(l)] = true
			}
		}
		if err := checkLabelCount(name, 0, len(set), "the label lists", opt); err != nil {
			return nil, err
		}
		for l := range set {
			labels = append(labels, l)
		}
		sort.Strings(labels)
		vocab = indexOf(labels)
	}
	d := &Dataset{Labels: labels, Format: "csv-list", Samples: make([]Sample, len(entries))}
	if labels == nil {
		d.Labels = []string{}
	}
	for i, e := range entries {
		truth, err := listTruth(e.labels, vocab, len(labels), missing)
		if err != nil {
			return nil, inputErrorf(name, e.line, "image %q: %v", e.image, err)
		}
		d.Samples[i] = Sample{Image: e.image, Truth: truth}
	}
	return d, nil
}

func detectListSep(data []csvRow) string {
	has := func(sep string) bool {
		for _, r := range data {
			if len(r.fields) > 1 && strings.Contains(r.fields[1], sep) {
				return true
			}
		}
		return false
	}
	for _, sep := range []string{"|", ";", ","} {
		if has(sep) {
			return sep
		}
	}
	return " "
}

func indexOf(labels []string) map[string]int {
	m := make(map[string]int, len(labels))
	for i, l := range labels {
		m[l] = i
	}
	return m
}
