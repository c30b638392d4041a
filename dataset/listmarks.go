package dataset

import (
	"fmt"
	"strings"
)

// Policies for labels a CSV list row does not mention (Options.Missing).
const (
	MissingNegative = "negative"
	MissingUnknown  = "unknown"
)

// List entry markers: "-sea" is a known negative, "?sea" an unknown label, "sea" a
// positive. A label name itself cannot start with either marker in the list layout.
const (
	negMark = '-'
	unkMark = '?'
)

func missingValue(s string) (int8, error) {
	switch s {
	case "", MissingNegative:
		return Negative, nil
	case MissingUnknown:
		return Unknown, nil
	}
	return 0, fmt.Errorf("%w: missing-label policy %q: want %q or %q", ErrBadOption, s, MissingNegative, MissingUnknown)
}

// listLabel returns the label name of a list entry, without its marker.
func listLabel(entry string) string {
	if len(entry) > 1 && (entry[0] == negMark || entry[0] == unkMark) {
		return strings.TrimSpace(entry[1:])
	}
	return entry
}

// fillListTruth writes an image's truth row from its list entries into truth:
// unmentioned labels take missing; one label given two different states (say "sea" and
// "-sea") is an error. mark is scratch space of len(truth).
func fillListTruth(truth []int8, mark []bool, entries []string, vocab map[string]int, missing int8) error {
	clear(mark)
	for i := range truth {
		truth[i] = missing
	}
	for _, e := range entries {
		v := Positive
		if len(e) > 1 {
			switch e[0] {
			case negMark:
				v = Negative
			case unkMark:
				v = Unknown
			}
		}
		name := listLabel(e)
		j, ok := vocab[name]
		if !ok || name == "" {
			return fmt.Errorf("bad list entry %q", e)
		}
		if mark[j] && truth[j] != v {
			return fmt.Errorf("label %q given as %s and %s", name, stateName(truth[j]), stateName(v))
		}
		truth[j], mark[j] = v, true
	}
	return nil
}

func stateName(v int8) string {
	switch v {
	case Positive:
		return "positive"
	case Negative:
		return "negative (-)"
	}
	return "unknown (?)"
}
