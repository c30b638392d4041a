package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// DefaultMaxLabels is the largest vocabulary a label source may declare when
// Options.MaxLabels is 0. Every reader checks it before allocating per-label storage (a
// CSV one-hot header, COCO categories, the distinct labels of a CSV list or of VOC files),
// so a hostile file declaring a million labels is refused at once instead of allocating
// images × labels truth values.
const DefaultMaxLabels = 100_000

// maxLabels is the vocabulary bound of opt.
func (opt Options) maxLabels() int {
	if opt.MaxLabels > 0 {
		return opt.MaxLabels
	}
	return DefaultMaxLabels
}

// checkLabelCount refuses n labels over the bound; what says where they were counted
// ("header", "categories", ...).
func checkLabelCount(file string, line, n int, what string, opt Options) error {
	if max := opt.maxLabels(); n > max {
		return inputErrorf(file, line, "%s declares %d labels, more than the maximum %d (raise it with Options.MaxLabels or --max-labels)", what, n, max)
	}
	return nil
}

// checkVocabularySize refuses a given vocabulary (Options.Labels) over the bound.
func checkVocabularySize(opt Options) error {
	if max := opt.maxLabels(); len(opt.Labels) > max {
		return fmt.Errorf("%w: the vocabulary has %d labels, more than the maximum %d (Options.MaxLabels)", ErrBadOption, len(opt.Labels), max)
	}
	return nil
}

// checkConfined refuses the first sample whose image reference is absolute or climbs
// out of the images directory (see Options.Confine).
func checkConfined(d *Dataset) error {
	for _, s := range d.Samples {
		if outside(s.Image) {
			return inputErrorf(d.Source, 0, "image %q is outside the images directory (absolute or with \"..\"); pass --allow-outside (Options.Confine false) to allow it", s.Image)
		}
	}
	return nil
}

func outside(image string) bool {
	p := filepath.FromSlash(image)
	if filepath.IsAbs(p) || strings.HasPrefix(image, "/") || strings.HasPrefix(image, `\`) || filepath.VolumeName(p) != "" {
		return true
	}
	c := filepath.Clean(p)
	return c == ".." || strings.HasPrefix(c, ".."+string(filepath.Separator))
}

// jsonArrayLen counts the elements of a JSON array without decoding them; any other
// value counts as 0. It lets parseCOCO refuse a million categories before allocating
// them: json.Unmarshal into struct{ Categories jsonArrayLen } skips every other member.
type jsonArrayLen int

func (n *jsonArrayLen) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '[' {
		*n = 0
		return nil
	}
	depth, count, inStr, esc, empty := 0, 0, false, false, true
	for _, c := range b {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		case ',':
			if depth == 1 {
				count++
			}
		}
		if depth >= 1 && c != '[' && c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			empty = false
		} else if depth > 1 {
			empty = false
		}
	}
	if !empty {
		count++
	}
	*n = jsonArrayLen(count)
	return nil
}

// cocoCategoryCount counts the categories of a COCO document (0 when it has none or is
// not valid JSON: parseCOCO reports that).
func cocoCategoryCount(data []byte) int {
	var probe struct {
		Categories jsonArrayLen `json:"categories"`
	}
	if json.Unmarshal(data, &probe) != nil {
		return 0
	}
	return int(probe.Categories)
}

// csvHeaderFields counts the fields of the first record of a CSV document (commas
// outside quotes, plus one) without allocating, so a one-hot header of a million
// columns is refused before the CSV reader splits it.
func csvHeaderFields(data []byte) int {
	n, _ := csvHeaderFieldsFrom(bytes.NewReader(data))
	return n
}

// csvHeaderFieldsFrom is csvHeaderFields over a stream: it reads up to the end of the
// first record and holds nothing of it.
func csvHeaderFieldsFrom(r io.Reader) (int, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, utf8BOM) {
		br.Discard(3)
	}
	n, inQuote := 1, false
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		switch {
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == ',':
			n++
		case c == '\n':
			return n, nil
		}
	}
}
