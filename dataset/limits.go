package dataset

import (
	"fmt"
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
