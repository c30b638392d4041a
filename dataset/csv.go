package dataset

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
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

// csvRows holds the non-blank records of a CSV file compactly: the first field of every
// record (the image name) in one string, the other fields in another, and offsets into
// them. For millions of rows this costs the bytes of the fields and a few integers a
// row, where a []string per record would cost several times that in headers and
// allocations.
type csvRows struct {
	heads    string   // field 0 of every record, concatenated
	rest     string   // fields 1.. of every record, concatenated
	headEnd  []uint32 // end of record i's field 0 in heads (its start is headEnd[i-1])
	fieldEnd []uint32 // ends of the fields 1.. of all records in rest
	first    []uint32 // record i's fields 1.. are fieldEnd[first[i]:first[i+1]]
	lines    []uint32 // line of record i
}

func (c *csvRows) n() int { return len(c.lines) }

func (c *csvRows) line(i int) int { return int(c.lines[i]) }

// width is the number of fields of record i.
func (c *csvRows) width(i int) int { return 1 + int(c.first[i+1]-c.first[i]) }

// field returns field k of record i (k < width(i)).
func (c *csvRows) field(i, k int) string {
	if k == 0 {
		lo := uint32(0)
		if i > 0 {
			lo = c.headEnd[i-1]
		}
		return c.heads[lo:c.headEnd[i]]
	}
	f := int(c.first[i]) + k - 1
	lo := uint32(0)
	if f > 0 {
		lo = c.fieldEnd[f-1]
	}
	return c.rest[lo:c.fieldEnd[f]]
}

// fields returns the fields of record i as a new slice.
func (c *csvRows) fields(i int) []string {
	out := make([]string, c.width(i))
	for k := range out {
		out[k] = c.field(i, k)
	}
	return out
}

// parseCSV reads a CSV label file. layout is "list", "onehot" or "" (detect).
func parseCSV(r io.Reader, name, layout string, opt Options) (*Dataset, error) {
	return parseCSVSized(r, -1, name, layout, opt)
}

// sizeAfter is the number of records after which parseCSVSized sizes its buffers for
// the rest of the input from what they hold so far.
const sizeAfter = 4096

// parseCSVSized is parseCSV for an input of about size bytes (-1: unknown): once
// sizeAfter records are read, the buffers are grown at once to what the rest of the
// input will need at the same rate, instead of by repeated appends (which, growing by a
// quarter at a time, allocate several times the final size and hold 2.25 times it
// while copying).
func parseCSVSized(r io.Reader, size int64, name, layout string, opt Options) (*Dataset, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, utf8BOM) {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	var rows csvRows
	var heads, rest strings.Builder
	rows.first = []uint32{0}
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
			return nil, fmt.Errorf("%s: %w", name, err) // reading failed: not the file's content
		}
		line, _ := cr.FieldPos(0)
		if rows.n() == 0 && len(rec) > 1 {
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
		if heads.Len()+len(rec[0]) > math.MaxUint32 || uint64(rest.Len())+uint64(len(rec)) > math.MaxUint32 ||
			uint64(len(rows.fieldEnd))+uint64(len(rec)) > math.MaxUint32 || line > math.MaxUint32 {
			return nil, inputErrorf(name, line, "label file too large to index (more than 4 GiB of fields)")
		}
		heads.WriteString(rec[0])
		rows.headEnd = append(rows.headEnd, uint32(heads.Len()))
		for _, f := range rec[1:] {
			if uint64(rest.Len())+uint64(len(f)) > math.MaxUint32 {
				return nil, inputErrorf(name, line, "label file too large to index (more than 4 GiB of fields)")
			}
			rest.WriteString(f)
			rows.fieldEnd = append(rows.fieldEnd, uint32(rest.Len()))
		}
		rows.first = append(rows.first, uint32(len(rows.fieldEnd)))
		rows.lines = append(rows.lines, uint32(line))
		if rows.n() == sizeAfter && size > 0 {
			if off := cr.InputOffset(); off > 0 && off < size {
				scale := float64(size)/float64(off)*1.02 + 0.01 // a little over, not another growth
				grow := func(have int) int { return int(float64(have)*scale) - have }
				heads.Grow(grow(heads.Len()))
				rest.Grow(grow(rest.Len()))
				rows.headEnd = slices.Grow(rows.headEnd, grow(len(rows.headEnd)))
				rows.fieldEnd = slices.Grow(rows.fieldEnd, grow(len(rows.fieldEnd)))
				rows.first = slices.Grow(rows.first, grow(len(rows.first)))
				rows.lines = slices.Grow(rows.lines, grow(len(rows.lines)))
			}
		}
	}
	rows.heads, rows.rest = heads.String(), rest.String()
	if rows.n() == 0 {
		return nil, inputErrorf(name, 0, "no rows: want a header such as image,labels or image,cat,dog,...")
	}
	var header []string
	data := 0 // the first data record
	headerless := layout != "onehot" && imageio.HasImageExt(rows.field(0, 0)) &&
		(rows.width(0) == 2 || layout == "list")
	if !headerless {
		header = rows.fields(0)
		data = 1
		if len(header) < 2 {
			return nil, inputErrorf(name, rows.line(0), "header has %d column; want image,labels or image,<label>,<label>,...", len(header))
		}
	}
	if layout == "" {
		layout = detectCSVLayout(header, &rows, data, opt)
	}
	switch layout {
	case "onehot":
		if header == nil {
			return nil, inputErrorf(name, rows.line(0), "one-hot layout needs a header row image,<label>,...")
		}
		return parseOneHot(name, rows.line(0), header, &rows, data, opt)
	case "list":
		return parseList(name, header, &rows, data, opt)
	}
	return nil, fmt.Errorf("%w: unknown CSV layout %q", ErrBadOption, layout)
}

func detectCSVLayout(header []string, rows *csvRows, data int, opt Options) string {
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
	for i := data; i < rows.n(); i++ {
		if rows.width(i) < 2 {
			continue
		}
		if _, ok := oneHotValue(rows.field(i, 1)); !ok {
			return "list"
		}
	}
	return "onehot"
}

func isOneHotValue(s string) bool {
	_, ok := oneHotValue(s)
	return ok
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

// repeats groups the records data.. of rows by image name (field 0). It returns nil
// when no name repeats. Otherwise firstOf[i-data] is the first record (in file order)
// with record i's name.
func repeats(rows *csvRows, data int) []int32 {
	n := rows.n() - data
	sorted := true
	for i := data + 1; i < rows.n(); i++ {
		if rows.field(i-1, 0) >= rows.field(i, 0) {
			sorted = false
			break
		}
	}
	if sorted { // strictly increasing names (the usual listing): no repeats
		return nil
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	// Stable: records of one name stay in file order, the first one first.
	slices.SortStableFunc(order, func(a, b int32) int {
		return strings.Compare(rows.field(data+int(a), 0), rows.field(data+int(b), 0))
	})
	firstOf := make([]int32, n)
	dup := false
	for k := 0; k < n; {
		e := k + 1
		for e < n && rows.field(data+int(order[e]), 0) == rows.field(data+int(order[k]), 0) {
			e++
		}
		for _, i := range order[k:e] {
			firstOf[i] = int32(data) + order[k]
		}
		dup = dup || e-k > 1
		k = e
	}
	if !dup {
		return nil
	}
	return firstOf
}

func parseOneHot(name string, headerLine int, header []string, rows *csvRows, data int, opt Options) (*Dataset, error) {
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
	n, L := rows.n()-data, len(labels)
	// Every record is checked in file order; the first bad one stops the reading. A
	// repeated image is found after the pass (by sorting the names, not with a map of
	// millions of strings) and reported instead when it comes first in the file: the
	// record's width and name are checked before its repetition, its values after.
	var bad error
	end := rows.n() // records data..end-1 are checked for a repetition
	for i := data; i < rows.n() && bad == nil; i++ {
		if rows.width(i) != len(header) {
			bad, end = inputErrorf(name, rows.line(i), "%d fields, header has %d (a value without a label column, or a missing value)", rows.width(i), len(header)), i
			break
		}
		if rows.field(i, 0) == "" {
			bad, end = inputErrorf(name, rows.line(i), "empty image name"), i
			break
		}
		for k := range cols {
			if v := rows.field(i, k+1); !isOneHotValue(v) {
				bad, end = inputErrorf(name, rows.line(i), "label %q: value %q is not 1, 0, -1, ? or empty", cols[k], v), i+1
				break
			}
		}
	}
	if firstOf := repeats(rows, data); firstOf != nil {
		for i := data; i < end; i++ {
			if f := int(firstOf[i-data]); f != i {
				return nil, inputErrorf(name, rows.line(i), "image %q already listed on line %d", rows.field(i, 0), rows.line(f))
			}
		}
	}
	if bad != nil {
		return nil, bad
	}
	if n > 0 {
		d.Samples = make([]Sample, n)
	}
	truths := make([]int8, n*L) // every truth row is a capped slice of one array (n*L ≤ the cells read)
	for i := range d.Samples {
		truth := truths[i*L : (i+1)*L : (i+1)*L]
		for k := range cols {
			truth[colTo[k]], _ = oneHotValue(rows.field(data+i, k+1))
		}
		d.Samples[i] = Sample{Image: rows.field(data+i, 0), Truth: truth}
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

// eachLabel calls f with every entry of a list cell split at sep (" ": any run of white
// space), trimmed, empty entries left out.
func eachLabel(s, sep string, f func(string)) {
	if sep == " " {
		for p := range strings.FieldsSeq(s) {
			f(p)
		}
		return
	}
	for p := range strings.SplitSeq(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			f(p)
		}
	}
}

func parseList(name string, header []string, rows *csvRows, data int, opt Options) (*Dataset, error) {
	sep, err := normListSep(opt.ListSep)
	if err != nil {
		return nil, err
	}
	if header != nil && len(header) != 2 {
		return nil, inputErrorf(name, 0, "list layout wants two columns (image,labels), header has %d", len(header))
	}
	if sep == "" {
		sep = detectListSep(rows, data)
	}
	missing, err := missingValue(opt.Missing)
	if err != nil {
		return nil, err
	}
	for i := data; i < rows.n(); i++ {
		if rows.width(i) != 2 {
			return nil, inputErrorf(name, rows.line(i), "%d fields, want 2 (image,labels); quote a comma-separated label list", rows.width(i))
		}
		if rows.field(i, 0) == "" {
			return nil, inputErrorf(name, rows.line(i), "empty image name")
		}
	}
	// Entries: one per image, in the order of its first record; repeated records of one
	// image (one record per label) add their labels to it. entry[i-data] is record i's
	// entry and entryRec[e] the first record of entry e (both nil when no image
	// repeats: then entry e is record data+e).
	n := rows.n() - data
	entry := repeats(rows, data)
	var entryRec []int32
	nEnt := n
	if entry != nil {
		nEnt = 0
		for i := range entry { // in place: entry[i] is a record (≤ data+i) until visited
			if f := int(entry[i]); f == data+i {
				entry[i] = int32(nEnt)
				entryRec = append(entryRec, int32(f))
				nEnt++
			} else {
				entry[i] = entry[f-data]
			}
		}
	}
	rec := func(e int) int {
		if entryRec == nil {
			return data + e
		}
		return int(entryRec[e])
	}
	// Label entries are interned: each distinct spelling once, the entries of all
	// images as indices in one array.
	tokID := map[string]int32{}
	var toks []string
	intern := func(t string) int32 {
		if id, ok := tokID[t]; ok {
			return id
		}
		t = strings.Clone(t) // not a slice of the whole file
		id := int32(len(toks))
		tokID[t] = id
		toks = append(toks, t)
		return id
	}
	// Two passes over the lists: count each entry's labels, then fill them in (one
	// array of the right size, in file order within an entry).
	entryOf := func(i int) int32 {
		if entry == nil {
			return int32(i)
		}
		return entry[i]
	}
	start := make([]uint32, nEnt+1) // entry e's labels: labs[start[e]:start[e+1]]
	for i := range n {
		e := entryOf(i)
		eachLabel(rows.field(data+i, 1), sep, func(string) { start[e+1]++ })
	}
	for e := range nEnt {
		start[e+1] += start[e]
	}
	labs := make([]int32, start[nEnt])
	next := append([]uint32(nil), start[:nEnt]...)
	for i := range n {
		e := entryOf(i)
		eachLabel(rows.field(data+i, 1), sep, func(t string) { labs[next[e]] = intern(t); next[e]++ })
	}
	labsOf := func(e int) []int32 { return labs[start[e]:start[e+1]] }
	var labels []string
	var vocab map[string]int
	if opt.Labels != nil {
		labels = append([]string(nil), opt.Labels...)
		vocab = indexOf(labels)
		known := make([]bool, len(toks))
		for id, t := range toks {
			_, known[id] = vocab[listLabel(t)]
		}
		for e := range nEnt {
			for _, id := range labsOf(e) {
				if !known[id] {
					return nil, inputErrorf(name, rows.line(rec(e)), "unknown label %q (vocabulary: %s)", toks[id], strings.Join(labels, ", "))
				}
			}
		}
	} else {
		set := map[string]bool{}
		for _, t := range toks {
			set[listLabel(t)] = true
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
	d := &Dataset{Labels: labels, Format: "csv-list", Samples: make([]Sample, nEnt)}
	if labels == nil {
		d.Labels = []string{}
	}
	L := len(labels)
	truths := make([]int8, nEnt*L) // every truth row is a capped slice of one array
	mark := make([]bool, L)
	var entries []string
	for e := range nEnt {
		entries = entries[:0]
		for _, id := range labsOf(e) {
			entries = append(entries, toks[id])
		}
		truth := truths[e*L : (e+1)*L : (e+1)*L]
		img := rows.field(rec(e), 0)
		if err := fillListTruth(truth, mark, entries, vocab, missing); err != nil {
			return nil, inputErrorf(name, rows.line(rec(e)), "image %q: %v", img, err)
		}
		d.Samples[e] = Sample{Image: img, Truth: truth}
	}
	return d, nil
}

func detectListSep(rows *csvRows, data int) string {
	has := func(sep string) bool {
		for i := data; i < rows.n(); i++ {
			if rows.width(i) > 1 && strings.Contains(rows.field(i, 1), sep) {
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
