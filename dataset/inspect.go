package dataset

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// InspectOptions controls Inspect.
type InspectOptions struct {
	CheckOptions
	// SkipImages computes label statistics over all samples without opening any image.
	SkipImages bool
	// TopPairs is how many co-occurring label pairs to report; 0 means 10.
	TopPairs int
}

// Bounds on co-occurrence counting, so that its cost stays linear in the number of
// positive labels per image (one VOC image with 10,000 labels would otherwise make
// 50 million pairs):
//
//   - an image with more than MaxPairLabelsPerImage positive labels contributes only the
//     pairs among its MaxPairLabelsPerImage most frequent labels (Report.PairImagesCapped
//     counts those images);
//   - at most MaxDistinctPairs distinct pairs are counted; pairs first seen once the table
//     is full are not (Report.PairsCapped says so).
const (
	MaxPairLabelsPerImage = 64
	MaxDistinctPairs      = 1 << 20
)

// Pair is a pair of labels and the number of images where both are positive.
type Pair struct {
	A     string `json:"a"`
	B     string `json:"b"`
	Count int    `json:"count"`
}

// Size is an image size and how many images have it.
type Size struct {
	Width  int `json:"width"`
	Height int `json:"height"`
	Count  int `json:"count"`
}

// SizeSummary summarises the sizes of the readable images.
type SizeSummary struct {
	N            int    `json:"n"`
	MinWidth     int    `json:"min_width"`
	MaxWidth     int    `json:"max_width"`
	MedianWidth  int    `json:"median_width"`
	MinHeight    int    `json:"min_height"`
	MaxHeight    int    `json:"max_height"`
	MedianHeight int    `json:"median_height"`
	Common       []Size `json:"common"` // the most frequent sizes, at most 5
}

// Report is the result of Inspect. Label statistics are over the readable, labelled
// images (all samples when images were not checked).
type Report struct {
	Source   string `json:"source"`
	Format   string `json:"format"`
	NSamples int    `json:"n_samples"` // samples in the label source
	// NImages counts readable, labelled images.
	NImages       int            `json:"n_images"`
	NLabels       int            `json:"n_labels"`
	Labels        []string       `json:"labels"`
	LabelCounts   map[string]int `json:"label_counts"`
	UnknownCounts map[string]int `json:"unknown_counts,omitempty"`
	// ImbalanceRatio is the largest label count over the smallest non-zero one.
	ImbalanceRatio float64 `json:"imbalance_ratio"`
	// EmptyLabels have no positive image.
	EmptyLabels []string `json:"empty_labels,omitempty"`
	// Cardinality is the mean number of positive labels per image; Density divides it by
	// the number of labels.
	Cardinality float64 `json:"label_cardinality"`
	Density     float64 `json:"label_density"`
	// NoLabel counts images with no positive label.
	NoLabel  int    `json:"n_no_label"`
	TopPairs []Pair `json:"top_pairs"`
	// PairImagesCapped counts images whose pairs were counted among their
	// MaxPairLabelsPerImage most frequent labels only; PairsCapped is set when the
	// MaxDistinctPairs table filled up.
	PairImagesCapped int      `json:"pair_images_capped,omitempty"`
	PairsCapped      bool     `json:"pairs_capped,omitempty"`
	Unannotated      []string `json:"unannotated"`
	// ImagesChecked says whether images were opened; the fields below need it.
	ImagesChecked bool           `json:"images_checked"`
	BadImages     []BadImage     `json:"bad_images"`
	BadCounts     map[string]int `json:"bad_counts"`
	ImageSize     *SizeSummary   `json:"image_size,omitempty"`
}

// Inspect computes the statistics of d and, unless opt.SkipImages, checks its images
// (see CheckImages: bad images are counted and named, or fail under opt.Strict).
func Inspect(ctx context.Context, d *Dataset, opt InspectOptions) (*Report, error) {
	r := &Report{
		Source: d.Source, Format: d.Format, NSamples: len(d.Samples), NLabels: len(d.Labels),
		Labels: append([]string{}, d.Labels...), LabelCounts: map[string]int{},
		Unannotated: append([]string{}, d.Unannotated...), BadImages: []BadImage{},
		BadCounts: map[string]int{}, TopPairs: []Pair{},
	}
	good := make([]int, len(d.Samples))
	for i := range good {
		good[i] = i
	}
	var infos []ImageInfo
	if !opt.SkipImages {
		cr, err := CheckImages(ctx, d, opt.CheckOptions)
		if err != nil {
			return nil, err
		}
		r.ImagesChecked = true
		r.BadImages = append(r.BadImages, cr.Bad...)
		for _, b := range cr.Bad {
			r.BadCounts[b.Kind]++
		}
		good = cr.Good()
		infos = cr.Info
	}
	r.NImages = len(good)
	L := len(d.Labels)
	counts := make([]int, L)
	unknown := make([]int, L)
	pos := make([]int, 0, L)
	total := 0
	for k, i := range good {
		if k%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		pos = pos[:0]
		for l, t := range d.Samples[i].Truth {
			switch t {
			case Positive:
				counts[l]++
				pos = append(pos, l)
			case Unknown:
				unknown[l]++
			}
		}
		total += len(pos)
		if len(pos) == 0 {
			r.NoLabel++
		}
	}
	pairs, err := countPairs(ctx, d, good, counts, r)
	if err != nil {
		return nil, err
	}
	minC, maxC := math.MaxInt, 0
	for l, name := range d.Labels {
		r.LabelCounts[name] = counts[l]
		if unknown[l] > 0 {
			if r.UnknownCounts == nil {
				r.UnknownCounts = map[string]int{}
			}
			r.UnknownCounts[name] = unknown[l]
		}
		if counts[l] == 0 {
			r.EmptyLabels = append(r.EmptyLabels, name)
			continue
		}
		minC, maxC = min(minC, counts[l]), max(maxC, counts[l])
	}
	if maxC > 0 {
		r.ImbalanceRatio = float64(maxC) / float64(minC)
	}
	if r.NImages > 0 {
		r.Cardinality = float64(total) / float64(r.NImages)
		if L > 0 {
			r.Density = r.Cardinality / float64(L)
		}
	}
	top := opt.TopPairs
	if top <= 0 {
		top = 10
	}
	ps := make([]Pair, 0, len(pairs))
	for k, c := range pairs {
		ps = append(ps, Pair{A: d.Labels[k[0]], B: d.Labels[k[1]], Count: c})
	}
	sort.Slice(ps, func(a, b int) bool {
		if ps[a].Count != ps[b].Count {
			return ps[a].Count > ps[b].Count
		}
		if ps[a].A != ps[b].A {
			return ps[a].A < ps[b].A
		}
		return ps[a].B < ps[b].B
	})
	if len(ps) > top {
		ps = ps[:top]
	}
	r.TopPairs = ps
	if infos != nil && len(good) > 0 {
		r.ImageSize = sizeSummary(infos, good)
	}
	return r, nil
}

func sizeSummary(infos []ImageInfo, good []int) *SizeSummary {
	ws := make([]int, 0, len(good))
	hs := make([]int, 0, len(good))
	freq := map[[2]int]int{}
	for _, i := range good {
		ws = append(ws, infos[i].Width)
		hs = append(hs, infos[i].Height)
		freq[[2]int{infos[i].Width, infos[i].Height}]++
	}
	sort.Ints(ws)
	sort.Ints(hs)
	s := &SizeSummary{N: len(ws), MinWidth: ws[0], MaxWidth: ws[len(ws)-1], MedianWidth: ws[len(ws)/2],
		MinHeight: hs[0], MaxHeight: hs[len(hs)-1], MedianHeight: hs[len(hs)/2]}
	for k, c := range freq {
		s.Common = append(s.Common, Size{Width: k[0], Height: k[1], Count: c})
	}
	sort.Slice(s.Common, func(a, b int) bool {
		x, y := s.Common[a], s.Common[b]
		if x.Count != y.Count {
			return x.Count > y.Count
		}
		if x.Width != y.Width {
			return x.Width < y.Width
		}
		return x.Height < y.Height
	})
	if len(s.Common) > 5 {
		s.Common = s.Common[:5]
	}
	return s
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "source:      %s (%s)\n", r.Source, r.Format)
	if r.ImagesChecked {
		fmt.Fprintf(&b, "images:      %d readable and labelled (of %d listed), %d bad\n", r.NImages, r.NSamples, len(r.BadImages))
	} else {
		fmt.Fprintf(&b, "images:      %d listed (not opened)\n", r.NSamples)
	}
	if len(r.Unannotated) > 0 {
		fmt.Fprintf(&b, "unannotated: %d (e.g. %s)\n", len(r.Unannotated), strings.Join(r.Unannotated[:min(3, len(r.Unannotated))], ", "))
	}
	fmt.Fprintf(&b, "labels:      %d\n", r.NLabels)
	fmt.Fprintf(&b, "cardinality: %.3f labels/image, density %.4f, %d images with no label\n", r.Cardinality, r.Density, r.NoLabel)
	fmt.Fprintf(&b, "imbalance:   %.2f (max/min count)\n", r.ImbalanceRatio)
	width := 5
	for _, l := range r.Labels {
		width = max(width, len(l))
	}
	fmt.Fprintf(&b, "\n  %-*s %7s %7s", width, "label", "count", "share")
	if r.UnknownCounts != nil {
		fmt.Fprintf(&b, " %7s", "unknown")
	}
	b.WriteString("\n")
	for _, l := range r.Labels {
		share := 0.0
		if r.NImages > 0 {
			share = 100 * float64(r.LabelCounts[l]) / float64(r.NImages)
		}
		fmt.Fprintf(&b, "  %-*s %7d %6.1f%%", width, l, r.LabelCounts[l], share)
		if r.UnknownCounts != nil {
			fmt.Fprintf(&b, " %7d", r.UnknownCounts[l])
		}
		b.WriteString("\n")
	}
	if len(r.TopPairs) > 0 {
		b.WriteString("\ntop co-occurring pairs:\n")
		if r.PairImagesCapped > 0 {
			fmt.Fprintf(&b, "  (%d images with more than %d labels: pairs among their %d most frequent labels only)\n", r.PairImagesCapped, MaxPairLabelsPerImage, MaxPairLabelsPerImage)
		}
		if r.PairsCapped {
			fmt.Fprintf(&b, "  (more than %d distinct pairs: pairs seen after the table filled are not counted)\n", MaxDistinctPairs)
		}
		for _, p := range r.TopPairs {
			fmt.Fprintf(&b, "  %s + %s: %d\n", p.A, p.B, p.Count)
		}
	}
	if s := r.ImageSize; s != nil {
		fmt.Fprintf(&b, "\nimage sizes: width %d..%d (median %d), height %d..%d (median %d); most common:",
			s.MinWidth, s.MaxWidth, s.MedianWidth, s.MinHeight, s.MaxHeight, s.MedianHeight)
		for _, c := range s.Common {
			fmt.Fprintf(&b, " %dx%d (%d)", c.Width, c.Height, c.Count)
		}
		b.WriteString("\n")
	}
	if len(r.BadImages) > 0 {
		kinds := make([]string, 0, len(r.BadCounts))
		for k, c := range r.BadCounts {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, c))
		}
		sort.Strings(kinds)
		fmt.Fprintf(&b, "\nbad images (skipped): %d (%s)\n", len(r.BadImages), strings.Join(kinds, ", "))
		for _, bi := range r.BadImages {
			fmt.Fprintf(&b, "  %s: %s\n", bi.Path, bi.Reason)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// countPairs counts, over the images good, the pairs of positive labels, within the
// bounds MaxPairLabelsPerImage and MaxDistinctPairs (see their documentation); counts
// are the labels' positive counts, used to keep an image's most frequent labels.
func countPairs(ctx context.Context, d *Dataset, good []int, counts []int, r *Report) (map[[2]int]int, error) {
	pairs := map[[2]int]int{}
	var pos []int
	for k, i := range good {
		if k%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		pos = pos[:0]
		for l, t := range d.Samples[i].Truth {
			if t == Positive {
				pos = append(pos, l)
			}
		}
		if len(pos) > MaxPairLabelsPerImage {
			r.PairImagesCapped++
			sort.Slice(pos, func(a, b int) bool {
				if counts[pos[a]] != counts[pos[b]] {
					return counts[pos[a]] > counts[pos[b]]
				}
				return pos[a] < pos[b]
			})
			pos = pos[:MaxPairLabelsPerImage]
			sort.Ints(pos)
		}
		for a := 0; a < len(pos); a++ {
			for b := a + 1; b < len(pos); b++ {
				key := [2]int{pos[a], pos[b]}
				if _, ok := pairs[key]; !ok && len(pairs) >= MaxDistinctPairs {
					r.PairsCapped = true
					continue
				}
				pairs[key]++
			}
		}
	}
	return pairs, nil
}
