package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/imageio"
)

// Options controls how Load reads a label source.
type Options struct {
	// ImagesDir is the directory image references are resolved against. Empty means a
	// default per format: for CSV the label file's directory, or its "images"
	// subdirectory when the first image is found there and not beside the file; for
	// COCO instances_<split>.json the <split> directory beside the file or beside its
	// parent ("annotations/"); for VOC the JPEGImages directory of the VOC root.
	ImagesDir string `json:"images_dir,omitempty"`
	// Format forces a reader: "csv" (layout detected), "csv-list", "csv-onehot", "coco"
	// or "voc". Empty detects it from the path and content.
	Format string `json:"format,omitempty"`
	// ListSep is the separator inside the list column of a CSV in list layout: ",", "|",
	// ";" or " " (the word "space" is accepted too). Empty detects it: "|" if any list
	// uses it, else ";", else "," (a quoted comma list), else " ". A label containing
	// spaces therefore needs another separator, or ListSep set explicitly.
	ListSep string `json:"list_sep,omitempty"`
	// Labels, when set, fixes the vocabulary and its order: a label outside it in the
	// source is an error, and labels of the vocabulary that the source never mentions
	// are negative (CSV list, COCO, VOC) or missing columns (CSV one-hot: an error).
	Labels []string `json:"labels,omitempty"`
	// KeepUnannotated keeps images that a COCO file declares without any annotation as
	// all-negative samples (they are always listed in Dataset.Unannotated).
	KeepUnannotated bool `json:"keep_unannotated,omitempty"`
	// VOCImageSet names the ImageSets/Main/<set>.txt list of a VOC root ("train", "val",
	// "trainval", "test"). Empty means trainval.txt when present, else every
	// Annotations/*.xml file.
	VOCImageSet string `json:"voc_image_set,omitempty"`
	// MaxLabels bounds the vocabulary a label source may declare (CSV one-hot header
	// columns, COCO categories, distinct labels of a CSV list or VOC files); 0 means
	// DefaultMaxLabels. It is checked before per-label storage is allocated.
	MaxLabels int `json:"max_labels,omitempty"`
	// Confine refuses image references that leave the images directory: absolute paths
	// and paths climbing out with "..". A label file then cannot make the program read
	// (and report on) an arbitrary file such as /etc/shadow. The check is on the
	// reference as written; links inside the directory are followed as usual.
	Confine bool `json:"confine,omitempty"`
	// Missing says what a label that a CSV list row does not mention is for that image:
	// "negative" (the default, also for "") or "unknown" (left out of losses, sampler
	// counts, threshold tuning and per-class metrics). In a list, "-label" marks a known
	// negative and "?label" an unknown whatever the policy (see [MissingNegative]).
	Missing string `json:"missing,omitempty"`
}

// InputError is a problem with the user's label source: a syntax error, an unknown label,
// a malformed line. It names the file and, where there is one, the line.
type InputError struct {
	File string
	Line int // 1-based; 0 when not tied to a line
	Err  error
}

func (e *InputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

// Is makes every InputError match errkind.ErrBadInput.
func (e *InputError) Is(target error) bool { return target == errkind.ErrBadInput }

func inputErrorf(file string, line int, format string, args ...any) error {
	return &InputError{File: file, Line: line, Err: fmt.Errorf(format, args...)}
}

// ErrBadOption is wrapped by errors about invalid Options (an unknown format or list
// separator, a repeated vocabulary label).
// It matches errkind.ErrBadInput.
var ErrBadOption = errkind.Sentinel("dataset: invalid option", errkind.ErrBadInput)

// IsBadInput reports whether err is caused by the user's input (a malformed or missing
// label source, a bad image under a strict policy, an invalid option) rather than by the program or the
// machine.
//
// Deprecated: use errkind.IsBadInput, which every package's input errors match.
func IsBadInput(err error) bool { return errkind.IsBadInput(err) }

// maxLabelFile bounds the size of a label file read into memory (CSV, COCO JSON, VOC XML).
const maxLabelFile = 4 << 30

// Load reads the label source at path, detecting its format unless opt.Format says it:
// a directory with an Annotations folder is Pascal VOC, a .json file (or one starting with
// '{') is COCO instances JSON, anything else is CSV in list or one-hot layout. Images are
// not opened; see CheckImages and Inspect for that. Errors in the label source are
// *InputError values naming the file and line.
func Load(path string, opt Options) (*Dataset, error) {
	d, err := load(path, opt)
	if err != nil {
		return nil, err
	}
	if opt.Confine && d.Format != "wds" { // a tar shard's images are its own members
		if err := checkConfined(d); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func load(path string, opt Options) (*Dataset, error) {
	if opt.Format == "wds" || (opt.Format == "" && IsShardPattern(path)) {
		if err := checkVocabulary(opt.Labels); err != nil {
			return nil, err
		}
		return loadWDS(path, opt)
	}
	st, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &InputError{File: path, Err: err}
	}
	if err := checkVocabulary(opt.Labels); err != nil {
		return nil, err
	}
	if err := checkVocabularySize(opt); err != nil {
		return nil, err
	}
	format := opt.Format
	if format == "" {
		format, err = detectFormat(path, st)
		if err != nil {
			return nil, err
		}
	}
	switch format {
	case "voc":
		return loadVOC(path, opt)
	case "coco":
		data, err := readLimited(path)
		if err != nil {
			return nil, err
		}
		d, err := parseCOCO(data, path, opt)
		if err != nil {
			return nil, err
		}
		d.Source = path
		dir := cocoImagesDir(path, opt.ImagesDir)
		if err := addUnlisted(d, dir, opt.KeepUnannotated); err != nil {
			return nil, err
		}
		resolvePaths(d, dir)
		return d, nil
	case "csv", "csv-list", "csv-onehot":
		layout := strings.TrimPrefix(strings.TrimPrefix(format, "csv"), "-")
		d, err := loadCSV(path, layout, opt)
		if err != nil {
			return nil, err
		}
		d.Source = path
		resolvePaths(d, csvImagesDir(path, opt.ImagesDir, d))
		return d, nil
	default:
		return nil, fmt.Errorf("%w: unknown format %q (want csv, csv-list, csv-onehot, coco, voc or wds)", ErrBadOption, format)
	}
}

// loadCSV parses the CSV label file at path, streamed from the file (the reader keeps
// its records compactly, not the file's bytes).
func loadCSV(path, layout string, opt Options) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &InputError{File: path, Err: err}
	}
	defer f.Close()
	size := int64(-1) // unknown: the reader's bound below still holds
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	if size > maxLabelFile {
		return nil, inputErrorf(path, 0, "label file larger than %d bytes", maxLabelFile)
	}
	n, err := csvHeaderFieldsFrom(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkLabelCount(path, 1, n-1, "the header", opt); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	lr := &io.LimitedReader{R: f, N: maxLabelFile + 1}
	d, err := parseCSVSized(lr, size, path, layout, opt)
	if err != nil {
		return nil, err
	}
	if lr.N <= 0 { // grew past the bound while being read
		return nil, inputErrorf(path, 0, "label file larger than %d bytes", maxLabelFile)
	}
	return d, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &InputError{File: path, Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxLabelFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxLabelFile {
		return nil, inputErrorf(path, 0, "label file larger than %d bytes", maxLabelFile)
	}
	return data, nil
}

func detectFormat(path string, st os.FileInfo) (string, error) {
	if st.IsDir() {
		if vocRoot(path) != "" {
			return "voc", nil
		}
		return "", inputErrorf(path, 0, "a directory, but not a Pascal VOC root (no Annotations folder)")
	}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		return "coco", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", &InputError{File: path, Err: err}
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = bytes.TrimLeft(bytes.TrimPrefix(head[:n], utf8BOM), " \t\r\n")
	if len(head) > 0 && head[0] == '{' {
		return "coco", nil
	}
	return "csv", nil
}

// resolvePaths sets Sample.Path from Sample.Image and the images directory. The paths
// are slices of one string (for millions of samples, one string each would cost their
// headers and the allocator's rounding besides the bytes).
func resolvePaths(d *Dataset, dir string) {
	if len(d.Samples) == 0 {
		return
	}
	sep := string(filepath.Separator)
	// dir/image is already clean (what filepath.Join would give) when both parts are
	// clean, dir is not "." or a root, and the image does not start by climbing.
	plainDir := dir != "" && dir != "." && filepath.Clean(dir) == dir && !strings.HasSuffix(dir, sep)
	var b strings.Builder
	n := 0 // the length of the paths written as dir/image (exact where they all are)
	for i := range d.Samples {
		n += len(dir) + len(sep) + len(d.Samples[i].Image)
	}
	b.Grow(n)
	ends := make([]int, len(d.Samples))
	for i := range d.Samples {
		img := d.Samples[i].Image
		p := filepath.FromSlash(img)
		if plainDir && p != "" && p != "." && p != ".." && !strings.HasPrefix(p, ".."+sep) &&
			!filepath.IsAbs(p) && filepath.Clean(p) == p {
			b.WriteString(dir)
			b.WriteString(sep)
			b.WriteString(p)
		} else {
			b.WriteString(resolve(dir, img))
		}
		ends[i] = b.Len()
	}
	all := b.String()
	start := 0
	for i := range d.Samples {
		d.Samples[i].Path = all[start:ends[i]]
		start = ends[i]
	}
}

func resolve(dir, image string) string {
	p := filepath.FromSlash(image)
	if filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

func csvImagesDir(path, explicit string, d *Dataset) string {
	if explicit != "" {
		return explicit
	}
	dir := filepath.Dir(path)
	if len(d.Samples) == 0 {
		return dir
	}
	first := d.Samples[0].Image
	if exists(resolve(dir, first)) {
		return dir
	}
	if alt := filepath.Join(dir, "images"); exists(resolve(alt, first)) {
		return alt
	}
	return dir
}

func cocoImagesDir(path, explicit string) string {
	if explicit != "" {
		return explicit
	}
	dir := filepath.Dir(path)
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if split, ok := strings.CutPrefix(base, "instances_"); ok && split != "" {
		for _, c := range []string{filepath.Join(dir, split), filepath.Join(dir, "..", split)} {
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				return filepath.Clean(c)
			}
		}
	}
	return dir
}

// addUnlisted appends to d.Unannotated the image files of dir that the label source does
// not mention (COCO distributes image folders holding more images than the annotation
// file lists), sorted by name; with keep they also become all-negative samples.
func addUnlisted(d *Dataset, dir string, keep bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // images elsewhere; CheckImages reports them missing
		}
		return fmt.Errorf("dataset: listing images in %s: %w", dir, err)
	}
	known := make(map[string]bool, len(d.Samples)+len(d.Unannotated))
	for _, s := range d.Samples {
		known[filepath.Clean(filepath.FromSlash(s.Image))] = true
	}
	for _, u := range d.Unannotated {
		known[filepath.Clean(filepath.FromSlash(u))] = true
	}
	for _, e := range entries { // ReadDir sorts by name
		n := e.Name()
		if e.IsDir() || !imageio.HasImageExt(n) || known[n] {
			continue
		}
		d.Unannotated = append(d.Unannotated, n)
		if keep {
			d.Samples = append(d.Samples, Sample{Image: n, Truth: make([]int8, len(d.Labels))})
		}
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Subset returns a dataset holding the samples at idx, in that order, over the same
// vocabulary. Truth slices are copied, so the subset can be modified freely.
func (d *Dataset) Subset(idx []int) *Dataset {
	out := &Dataset{
		Labels:  append([]string(nil), d.Labels...),
		Samples: make([]Sample, len(idx)),
		Format:  d.Format,
		Source:  d.Source,
	}
	// The copied truth rows share one array (each row capped to its length, so an
	// append to one never writes into the next).
	total := 0
	for _, i := range idx {
		total += len(d.Samples[i].Truth)
	}
	arena := make([]int8, total)
	off := 0
	for k, i := range idx {
		s := d.Samples[i]
		n := copy(arena[off:], s.Truth)
		if n == 0 {
			s.Truth = nil // as a copy of an empty row
		} else {
			s.Truth = arena[off : off+n : off+n]
		}
		off += n
		out.Samples[k] = s
	}
	return out
}

// Paths returns the image paths of the samples, in order.
func (d *Dataset) Paths() []string {
	p := make([]string, len(d.Samples))
	for i, s := range d.Samples {
		p[i] = s.Path
	}
	return p
}

// Truths returns the truth rows of the samples, in order (shared, not copied).
func (d *Dataset) Truths() [][]int8 {
	t := make([][]int8, len(d.Samples))
	for i, s := range d.Samples {
		t[i] = s.Truth
	}
	return t
}

func checkVocabulary(labels []string) error {
	seen := map[string]bool{}
	for _, l := range labels {
		if strings.TrimSpace(l) == "" {
			return fmt.Errorf("%w: empty label name in the vocabulary", ErrBadOption)
		}
		if seen[l] {
			return fmt.Errorf("%w: label %q twice in the vocabulary", ErrBadOption, l)
		}
		seen[l] = true
	}
	return nil
}
