package metric

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
)

// ErrPredictions marks a malformed predictions file or one that does not match the
// truth (missing or extra images, unknown or missing label columns).
var ErrPredictions = errors.New("bad predictions")

// Predictions are per-image scores read from a predictions CSV file.
type Predictions struct {
	Source string // file name, for messages
	Labels []string
	Images []string
	Scores [][]float32 // Scores[i][j]: image i, label j (Labels order)
	Lines  []int       // CSV line of each image, for messages
}

// LoadPredictionsCSV reads a predictions file; see ReadPredictionsCSV.
func LoadPredictionsCSV(file string) (*Predictions, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadPredictionsCSV(f, file)
}

// ReadPredictionsCSV reads a predictions CSV: a header "image,<label>,<label>..." and one
// row per image with one probability in [0,1] per label. Cells are trimmed of
// surrounding spaces (labels may contain inner spaces); a UTF-8 byte-order mark is
// ignored. Errors wrap ErrPredictions and name the file, line and column.
func ReadPredictionsCSV(r io.Reader, name string) (*Predictions, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	bad := func(line int, format string, args ...any) error {
		return fmt.Errorf("%w: %s:%d: %s", ErrPredictions, name, line, fmt.Sprintf(format, args...))
	}
	hdr, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: %s: empty file (want a header \"image,<label>,...\")", ErrPredictions, name)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrPredictions, name, err)
	}
	line, _ := cr.FieldPos(0)
	if len(hdr) > 0 {
		hdr[0] = strings.TrimPrefix(hdr[0], "\ufeff")
	}
	if len(hdr) < 2 || !strings.EqualFold(strings.TrimSpace(hdr[0]), "image") {
		return nil, bad(line, "wrong header %q: want \"image\" followed by one column per label", strings.Join(hdr, ","))
	}
	p := &Predictions{Source: name}
	seen := map[string]int{}
	for c, h := range hdr[1:] {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, bad(line, "header column %d has an empty label name", c+2)
		}
		if prev, dup := seen[h]; dup {
			return nil, bad(line, "label %q appears in header columns %d and %d", h, prev+2, c+2)
		}
		seen[h] = c
		p.Labels = append(p.Labels, h)
	}
	nl := len(p.Labels)
	rows := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrPredictions, name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != nl+1 {
			return nil, bad(line, "%d columns, want %d (image + %d labels)", len(rec), nl+1, nl)
		}
		img := strings.TrimSpace(rec[0])
		if img == "" {
			return nil, bad(line, "empty image name")
		}
		if prev, dup := rows[img]; dup {
			return nil, bad(line, "image %q already appears on line %d", img, p.Lines[prev])
		}
		row := make([]float32, nl)
		for j, cell := range rec[1:] {
			cell = strings.TrimSpace(cell)
			v, err := strconv.ParseFloat(cell, 64)
			if err != nil {
				return nil, bad(line, "image %q, label %q: %q is not a number", img, p.Labels[j], cell)
			}
			if math.IsNaN(v) || v < 0 || v > 1 {
				return nil, bad(line, "image %q, label %q: score %s is not a probability in [0,1]", img, p.Labels[j], cell)
			}
			row[j] = float32(v)
		}
		rows[img] = len(p.Images)
		p.Images = append(p.Images, img)
		p.Scores = append(p.Scores, row)
		p.Lines = append(p.Lines, line)
	}
	if len(p.Images) == 0 {
		return nil, fmt.Errorf("%w: %s: no prediction rows after the header", ErrPredictions, name)
	}
	return p, nil
}

// Align returns the scores ordered like images (the truth's image names) and labels
// (the truth's vocabulary). A prediction row matches an image by its exact name; a row
// left unmatched then matches by base name (the part after the last '/' or '\'), but
// only when that base name belongs to exactly one unmatched image and one unmatched
// row, so that "a/1.jpg" and "b/1.jpg" are never confused. The label columns must be
// exactly the vocabulary, in any order. Images without a prediction, predictions
// without an image, and unknown or missing label columns are errors wrapping
// ErrPredictions that name them.
func (p *Predictions) Align(images, labels []string) ([][]float32, error) {
	// Columns.
	col := make([]int, len(labels))
	have := map[string]int{}
	for c, l := range p.Labels {
		have[l] = c
	}
	want := map[string]bool{}
	var missing []string
	for j, l := range labels {
		want[l] = true
		c, ok := have[l]
		if !ok {
			missing = append(missing, l)
		}
		col[j] = c
	}
	var unknown []string
	for _, l := range p.Labels {
		if !want[l] {
			unknown = append(unknown, l)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: %s: unknown label column(s) %s (not in the truth's vocabulary)", ErrPredictions, p.Source, quoteList(unknown))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s: no column for label(s) %s", ErrPredictions, p.Source, quoteList(missing))
	}

	// Rows.
	exact := make(map[string]int, len(p.Images))
	for r, img := range p.Images {
		exact[img] = r
	}
	rowOf := make([]int, len(images))
	used := make([]bool, len(p.Images))
	imgIdx := map[string]int{}
	for i, img := range images {
		if prev, dup := imgIdx[img]; dup {
			return nil, fmt.Errorf("%w: the truth lists image %q twice (rows %d and %d)", ErrPredictions, img, prev, i)
		}
		imgIdx[img] = i
		rowOf[i] = -1
		if r, ok := exact[img]; ok {
			rowOf[i] = r
			used[r] = true
		}
	}
	// Base-name fallback among the leftovers, unique on both sides.
	imgsByBase := map[string][]int{}
	for i, img := range images {
		if rowOf[i] < 0 {
			imgsByBase[baseName(img)] = append(imgsByBase[baseName(img)], i)
		}
	}
	rowsByBase := map[string][]int{}
	for r, img := range p.Images {
		if !used[r] {
			rowsByBase[baseName(img)] = append(rowsByBase[baseName(img)], r)
		}
	}
	for b, is := range imgsByBase {
		if rs := rowsByBase[b]; len(is) == 1 && len(rs) == 1 {
			rowOf[is[0]] = rs[0]
			used[rs[0]] = true
		}
	}
	var miss, extra []string
	for i, r := range rowOf {
		if r < 0 {
			miss = append(miss, images[i])
		}
	}
	for r, u := range used {
		if !u {
			extra = append(extra, fmt.Sprintf("%s (line %d)", p.Images[r], p.Lines[r]))
		}
	}
	if len(miss) > 0 {
		return nil, fmt.Errorf("%w: %s: no prediction for %d image(s) of the truth: %s", ErrPredictions, p.Source, len(miss), quoteList(miss))
	}
	if len(extra) > 0 {
		return nil, fmt.Errorf("%w: %s: %d prediction row(s) for images not in the truth: %s", ErrPredictions, p.Source, len(extra), strings.Join(firstN(extra, 5), ", "))
	}
	out := make([][]float32, len(images))
	for i, r := range rowOf {
		src := p.Scores[r]
		row := make([]float32, len(labels))
		for j, c := range col {
			row[j] = src[c]
		}
		out[i] = row
	}
	return out, nil
}

func baseName(s string) string {
	return path.Base(strings.ReplaceAll(s, "\\", "/"))
}

func firstN(v []string, n int) []string {
	if len(v) <= n {
		return v
	}
	return append(append([]string(nil), v[:n]...), fmt.Sprintf("… and %d more", len(v)-n))
}

func quoteList(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(firstN(q, 5), ", ")
}
