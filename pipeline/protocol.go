package pipeline

import (
	"crypto/sha256"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/metric"
)

// Honest protocols: the checks that keep a reported test score a test score.

// partNames names the parts of a run, indexed like run.parts.
var partNames = [3]string{"train", "validation", "test"}

// Overlap is one image found in two parts of a run.
type Overlap struct {
	// A and B are the image paths, in parts PartA and PartB ("train", "validation",
	// "test"); they are equal when the same file is listed twice.
	A     string `json:"a"`
	PartA string `json:"part_a"`
	B     string `json:"b"`
	PartB string `json:"part_b"`
	// How is "same file" (the same resolved path) or "same content" (equal bytes).
	How string `json:"how"`
}

// findOverlap returns the images that appear in two of parts (nil parts are skipped):
// the same resolved path, or, among files of equal size, the same SHA-256 of their
// bytes. Only files whose size matches a file of another part are read, so the check
// costs one stat per image and a read of the few candidates. Files that cannot be
// stat'ed are left to the image checks that follow.
func findOverlap(parts [3]*dataset.Dataset) []Overlap { return findOverlapHash(parts, fnv64a) }

// fnv64a is the FNV-1a 64-bit hash of s.
func fnv64a(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// findOverlapHash is findOverlap with the path hash given (tests give a colliding one).
func findOverlapHash(parts [3]*dataset.Dataset, hash func(string) uint64) []Overlap {
	type entry struct {
		path string
		part int
	}
	// The first listing of each resolved path, keyed by a 64-bit hash of the path (no
	// resolved path is kept: 8 bytes a value, for millions of images); two paths whose
	// hashes collide go to exact, keyed by the path itself. seen has a bit per part that
	// lists the path, so that a file listed twice in one part is not an overlap.
	type ref struct {
		i    int32 // sample index in parts[part]
		part int8
		seen uint8
	}
	total := 0
	for _, p := range parts {
		if p != nil {
			total += len(p.Samples)
		}
	}
	byHash := make(map[uint64]ref, total)
	exact := map[string]ref{}
	var out []Overlap
	bySize := map[int64][]entry{}
	for k, p := range parts {
		if p == nil {
			continue
		}
		for i, s := range p.Samples {
			key := canonicalPath(s.Path)
			sum := hash(key)
			e, ok := byHash[sum]
			inExact := false
			if ok && canonicalPath(parts[e.part].Samples[e.i].Path) != key {
				e, ok = exact[key] // another path with the same hash
				inExact = true
			}
			bit := uint8(1) << k
			if ok {
				if e.seen&bit == 0 && int(e.part) != k {
					out = append(out, Overlap{A: parts[e.part].Samples[e.i].Path, PartA: partNames[e.part], B: s.Path, PartB: partNames[k], How: "same file"})
				}
				e.seen |= bit
			} else {
				e = ref{i: int32(i), part: int8(k), seen: bit}
			}
			if inExact {
				exact[key] = e
			} else {
				byHash[sum] = e
			}
			if ok {
				continue
			}
			if st, err := os.Stat(s.Path); err == nil && st.Mode().IsRegular() {
				bySize[st.Size()] = append(bySize[st.Size()], entry{s.Path, k})
			}
		}
	}
	for _, group := range bySize {
		mixed := false
		for _, e := range group[1:] {
			mixed = mixed || e.part != group[0].part
		}
		if !mixed {
			continue
		}
		byHash := map[[sha256.Size]byte]entry{}
		for _, e := range group {
			h, err := hashFile(e.path)
			if err != nil {
				continue
			}
			if f, ok := byHash[h]; ok {
				if f.part != e.part {
					out = append(out, Overlap{A: f.path, PartA: partNames[f.part], B: e.path, PartB: partNames[e.part], How: "same content"})
				}
				continue
			}
			byHash[h] = e
		}
	}
	return out
}

// canonicalPath is p made absolute and clean, with symbolic links resolved when it can be.
func canonicalPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		p = a
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	return filepath.Clean(p)
}

func hashFile(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// checkOverlap applies the overlap rule to the loaded parts: an overlap is bad input
// unless allow is set, when it is logged and counted in the split.
func checkOverlap(parts [3]*dataset.Dataset, allow bool, log *slog.Logger, info *SplitInfo) error {
	ov := findOverlap(parts)
	info.Overlap = len(ov)
	if len(ov) == 0 {
		return nil
	}
	o := ov[0]
	first := fmt.Sprintf("%s (%s) and %s (%s), %s", o.A, o.PartA, o.B, o.PartB, o.How)
	if o.How == "same file" {
		first = fmt.Sprintf("%s in %s and %s", o.A, o.PartA, o.PartB)
	}
	if allow {
		log.Warn("train: images shared between parts (allowed): held-out metrics are optimistic", "count", len(ov), "first", first)
		return nil
	}
	return errkind.BadInput("%d image(s) are in more than one of train, validation and test, first %s: held-out metrics would be measured on training images; give disjoint sets (or allow it explicitly: --allow-overlap)", len(ov), first)
}

// describeSplit says in words how the parts were chosen.
func describeSplit(cfg TrainConfig, info SplitInfo) string {
	pct := func(r float64) string { return fmt.Sprintf("%.4g%%", 100*r) }
	switch {
	case cfg.Val != "" && cfg.Test != "":
		return "given: train on the data, validate on the validation file, test on the test file"
	case info.How == "given":
		return "given"
	}
	var parts []string
	for k, r := range info.Ratio {
		if r > 0 {
			parts = append(parts, partNames[k]+" "+pct(r))
		}
	}
	s := "stratified " + strings.Join(parts, ", ") + " of the data"
	switch {
	case cfg.Test != "":
		s += "; test: the test file"
	case cfg.Val != "":
		s += "; validation: the validation file"
	}
	if cfg.Val == "" && cfg.Test == "" && len(info.Ratio) == 3 &&
		math.Abs(info.Ratio[0]-0.7) < 1e-9 && math.Abs(info.Ratio[1]-0.1) < 1e-9 && math.Abs(info.Ratio[2]-0.2) < 1e-9 {
		s += ", the default"
	}
	return s
}

// Validation sizes below which threshold tuning and epoch selection are unreliable.
const (
	// MinValImages is the number of validation images under which the run warns that
	// the best epoch is picked on noise.
	MinValImages = 20
)

// ThresholdInfo says how the per-label thresholds were chosen.
type ThresholdInfo struct {
	// Method is "tuned" (per-label F1 on validation, with the fallback below),
	// "default" (no validation set: metric.DefaultThreshold) or "kept" (tuning failed;
	// the starting thresholds were kept).
	Method string `json:"method"`
	// MinPositives is the number of validation positives a label needs for its own
	// threshold.
	MinPositives int `json:"min_positives,omitempty"`
	// Global is the single micro-F1 threshold that labels with too few validation
	// positives fall back to, and Fallback names those labels.
	Global   float64  `json:"global,omitempty"`
	Fallback []string `json:"fallback_labels,omitempty"`
	// ValImages is the validation set's size.
	ValImages int `json:"val_images"`
}

// Summary is a one-line account of the thresholds for people.
func (t ThresholdInfo) Summary() string {
	switch t.Method {
	case "default":
		return fmt.Sprintf("no validation set: every label uses the default threshold %.2f", metric.DefaultThreshold)
	case "kept":
		return "threshold tuning failed: the starting thresholds were kept"
	}
	if len(t.Fallback) == 0 {
		return fmt.Sprintf("per-label thresholds tuned on %d validation images", t.ValImages)
	}
	return fmt.Sprintf("per-label thresholds tuned on %d validation images; %d label(s) with fewer than %d validation positives use the global threshold %.3f: %s",
		t.ValImages, len(t.Fallback), t.MinPositives, t.Global, nameList(t.Fallback, 10))
}

// nameList joins names, at most max of them, then "and N more".
func nameList(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}

// tuneInfo describes the fallback of metric.TuneThresholds on the validation truth vy
// and warns when the validation set is too small to tune or to pick epochs.
func tuneInfo(stage string, vy [][]int8, labels []string, global float64, log *slog.Logger) ThresholdInfo {
	t := ThresholdInfo{Method: "tuned", MinPositives: metric.DefaultMinPositives, Global: global, ValImages: len(vy)}
	for j, l := range labels {
		n := 0
		for _, row := range vy {
			if j < len(row) && row[j] > 0 {
				n++
			}
		}
		if n < t.MinPositives {
			t.Fallback = append(t.Fallback, l)
		}
	}
	if len(vy) < MinValImages {
		log.Warn(stage+": the validation set is small: the best epoch and the thresholds are chosen on few images", "images", len(vy), "want", MinValImages)
	}
	if len(t.Fallback) > 0 {
		log.Warn(fmt.Sprintf("%s: %d label(s) have fewer than %d validation positives and use the global threshold %.3f: %s",
			stage, len(t.Fallback), t.MinPositives, global, nameList(t.Fallback, 10)))
	}
	return t
}
