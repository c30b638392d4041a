package metric

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// ErrThresholds marks a malformed or incomplete thresholds file.
var ErrThresholds = errors.New("bad thresholds")

// LoadThresholds reads a thresholds file; see ParseThresholds.
func LoadThresholds(path string, labels []string) ([]float64, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseThresholds(raw, path, labels)
}

// ParseThresholds reads per-class thresholds, in labels order, from a JSON object
// label -> threshold (or an object with such a "thresholds" member, as Result's JSON
// has), or from "label,threshold" lines (an optional "label,threshold" header, blank
// lines and #-comments allowed). Every label needs a threshold in [0,1] and no other
// label may appear. Errors wrap ErrThresholds and name the file (and line).
func ParseThresholds(raw []byte, path string, labels []string) ([]float64, error) {
	m := map[string]float64{}
	var order []string
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(t, &obj); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrThresholds, path, err)
		}
		if inner, ok := obj["thresholds"]; ok {
			var th map[string]json.RawMessage
			if err := json.Unmarshal(inner, &th); err != nil {
				return nil, fmt.Errorf("%w: %s: \"thresholds\": %w", ErrThresholds, path, err)
			}
			obj = th
		}
		for k, v := range obj {
			var f float64
			if err := json.Unmarshal(v, &f); err != nil {
				return nil, fmt.Errorf("%w: %s: label %q: threshold %s is not a number", ErrThresholds, path, k, v)
			}
			m[k] = f
			order = append(order, k)
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(raw))
		line := 0
		for sc.Scan() {
			line++
			s := strings.TrimSpace(sc.Text())
			if s == "" || strings.HasPrefix(s, "#") {
				continue
			}
			i := strings.LastIndexByte(s, ',')
			if i < 0 {
				return nil, fmt.Errorf("%w: %s:%d: want label,threshold", ErrThresholds, path, line)
			}
			l, v := strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
			if line == 1 && strings.EqualFold(l, "label") {
				continue // header
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: %s:%d: label %q: threshold %q is not a number", ErrThresholds, path, line, l, v)
			}
			if _, dup := m[l]; dup {
				return nil, fmt.Errorf("%w: %s:%d: label %q given twice", ErrThresholds, path, line, l)
			}
			m[l] = f
			order = append(order, l)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrThresholds, path, err)
		}
	}
	slices.Sort(order)
	th := make([]float64, len(labels))
	for j, l := range labels {
		v, ok := m[l]
		if !ok {
			return nil, fmt.Errorf("%w: %s: no threshold for label %q", ErrThresholds, path, l)
		}
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("%w: %s: label %q: threshold %v is not in [0,1]", ErrThresholds, path, l, v)
		}
		th[j] = v
	}
	for _, l := range order {
		if !slices.Contains(labels, l) {
			return nil, fmt.Errorf("%w: %s: threshold for unknown label %q", ErrThresholds, path, l)
		}
	}
	return th, nil
}
