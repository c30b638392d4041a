package dataset

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/imageio"
)

// WebDataset tar shards (format "wds").
//
// A shard is a plain tar file. Its first member is VocabularyMember, a JSON object
// {"labels": [...]} giving the vocabulary (every shard of a set carries the same one, so
// each can be read alone). Then every sample is two consecutive members sharing a key
// (the member name up to the first dot of its base name): KEY.EXT holds the original
// image bytes (EXT its original extension: jpg, png, ...) and KEY.json the labels:
//
//	{"image": "sub/img01.jpg", "labels": ["cat"], "unknown": ["dog"]}
//
// "labels" are positive, "unknown" unknown, every other label of the vocabulary negative;
// "image" is the image reference the sample had in its original label source (the key
// plus extension when absent). Reading lists each shard once, sequentially, keeping only
// the members' positions: the image bytes stay in the archive and are read when the
// image is loaded (imageio.MemberPath), so memory does not grow with the images. A
// sample with its JSON or image missing, or an unreadable JSON, is skipped and listed in
// Dataset.Skipped (--strict makes it an error, like any unusable image).

// VocabularyMember is the name of a shard's first member.
const VocabularyMember = "__vocabulary__.json"

// maxSampleJSON bounds a sample's JSON member.
const maxSampleJSON = 1 << 20

// IsShardPattern reports whether path names WebDataset tar shards: it ends in ".tar"
// (after a brace range or glob, if any).
func IsShardPattern(p string) bool {
	return strings.HasSuffix(strings.ToLower(p), ".tar")
}

// ExpandShards expands a shard pattern into file names: brace ranges {000..009} (the
// width of the first bound is kept: zero padding) and comma lists {a,b}, then glob
// characters (* ? [..]) against the file system, sorted. A pattern without them is
// returned as it is (existing or not: Load reports a missing file).
func ExpandShards(pattern string) ([]string, error) {
	names, err := ExpandBraces(pattern)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadOption, pattern, err)
	}
	var out []string
	for _, n := range names {
		if !strings.ContainsAny(n, "*?[") {
			out = append(out, n)
			continue
		}
		m, err := filepath.Glob(n)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBadOption, n, err)
		}
		if len(m) == 0 {
			return nil, inputErrorf(n, 0, "matches no file")
		}
		out = append(out, m...)
	}
	return out, nil
}

// maxExpansion bounds the number of names a brace pattern expands to.
const maxExpansion = 1 << 20

// ExpandBraces expands the brace groups of pattern, left to right: {A..B} with A <= B
// decimal numbers (padded to the width of A when A has a leading zero, or when A and B
// have the same width) and {x,y,z} lists. Nested braces are not supported.
func ExpandBraces(pattern string) ([]string, error) {
	out := []string{""}
	rest := pattern
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return nil, errors.New("unbalanced '}'")
			}
			for k := range out {
				out[k] += rest
			}
			return out, nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, errors.New("unbalanced '{'")
		}
		j += i
		body := rest[i+1 : j]
		if strings.IndexByte(rest[:i], '}') >= 0 || strings.IndexByte(body, '{') >= 0 {
			return nil, errors.New("unbalanced or nested braces")
		}
		alts, err := braceAlternatives(body)
		if err != nil {
			return nil, err
		}
		if len(out)*len(alts) > maxExpansion {
			return nil, fmt.Errorf("expands to more than %d names", maxExpansion)
		}
		next := make([]string, 0, len(out)*len(alts))
		for _, o := range out {
			for _, a := range alts {
				next = append(next, o+rest[:i]+a)
			}
		}
		out, rest = next, rest[j+1:]
	}
}

func braceAlternatives(body string) ([]string, error) {
	if a, b, ok := strings.Cut(body, ".."); ok {
		lo, err1 := strconv.ParseUint(a, 10, 31)
		hi, err2 := strconv.ParseUint(b, 10, 31)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("range {%s}: want {A..B} with decimal bounds", body)
		}
		if lo > hi {
			return nil, fmt.Errorf("range {%s}: first bound above the last", body)
		}
		if hi-lo >= maxExpansion {
			return nil, fmt.Errorf("range {%s}: more than %d names", body, maxExpansion)
		}
		width := 0
		if (len(a) > 1 && a[0] == '0') || len(a) == len(b) {
			width = len(a)
		}
		alts := make([]string, 0, hi-lo+1)
		for v := lo; v <= hi; v++ {
			alts = append(alts, fmt.Sprintf("%0*d", width, v))
		}
		return alts, nil
	}
	if !strings.Contains(body, ",") {
		return nil, fmt.Errorf("{%s}: want a range {A..B} or a list {a,b}", body)
	}
	return strings.Split(body, ","), nil
}

// sampleJSON is a sample's JSON member.
type sampleJSON struct {
	Image   string   `json:"image,omitempty"`
	Labels  []string `json:"labels"`
	Unknown []string `json:"unknown,omitempty"`
}

// parseSampleJSON reads a sample's JSON member into a truth row over vocab (index: label
// -> position). A label outside the vocabulary, or positive and unknown at once, is an
// error.
func parseSampleJSON(b []byte, index map[string]int) (sampleJSON, []int8, error) {
	var s sampleJSON
	if err := json.Unmarshal(b, &s); err != nil {
		return s, nil, fmt.Errorf("sample JSON: %w", err)
	}
	truth := make([]int8, len(index))
	for _, l := range s.Labels {
		j, ok := index[l]
		if !ok {
			return s, nil, fmt.Errorf("label %q is not in the vocabulary", l)
		}
		truth[j] = Positive
	}
	for _, l := range s.Unknown {
		j, ok := index[l]
		if !ok {
			return s, nil, fmt.Errorf("unknown label %q is not in the vocabulary", l)
		}
		if truth[j] == Positive {
			return s, nil, fmt.Errorf("label %q both positive and unknown", l)
		}
		truth[j] = Unknown
	}
	if strings.ContainsAny(s.Image, "\r\n\x00") {
		return s, nil, fmt.Errorf("image name %q has a control character", s.Image)
	}
	return s, truth, nil
}

// memberKey splits a member name into its WebDataset key and extension (after the first
// dot of the base name).
func memberKey(name string) (key, ext string) {
	dir, base := path.Split(name)
	k, e, _ := strings.Cut(base, ".")
	return dir + k, e
}

// loadWDS reads the tar shards that pattern names.
func loadWDS(pattern string, opt Options) (*Dataset, error) {
	files, err := ExpandShards(pattern)
	if err != nil {
		return nil, err
	}
	d, err := LoadShards(files, nil, opt)
	if err != nil {
		return nil, err
	}
	d.Source = pattern
	return d, nil
}

// ShardOpener opens the tar shard named name for LoadShards. Its reader's Seek is used
// to skip image data while listing (and to learn the members' offsets).
type ShardOpener func(name string) (io.ReadSeekCloser, error)

// LoadShards reads the WebDataset tar shards files, in order, each opened with open
// (nil: os.Open), as Load reads a shard pattern: sample paths are member paths
// (imageio.MemberPath) of files[k], so a name that is a URL makes member paths that
// imageio reads through an archive registered for it (imageio.RegisterArchive). An
// open or read error that matches errkind.ErrUnavailable (storage failing after its
// retries) fails the load instead of being skipped and counted as a truncated shard.
func LoadShards(files []string, open ShardOpener, opt Options) (*Dataset, error) {
	if open == nil {
		open = func(name string) (io.ReadSeekCloser, error) { return os.Open(name) }
	}
	d := &Dataset{Format: "wds", Source: strings.Join(files, ",")}
	var first []string
	var index map[string]int
	for _, f := range files {
		_, err := readShard(f, open, d, func(vocab []string) (map[string]int, error) {
			if first == nil {
				first = vocab
				// Options.Labels fixes the vocabulary: the shards' labels are mapped to
				// it, and one it lacks is an error when a sample uses it.
				d.Labels = vocab
				if opt.Labels != nil {
					d.Labels = append([]string(nil), opt.Labels...)
				}
				index = make(map[string]int, len(d.Labels))
				for j, l := range d.Labels {
					index[l] = j
				}
			} else if !slices.Equal(vocab, first) {
				return nil, inputErrorf(f, 0, "vocabulary differs from the first shard's (%s)", files[0])
			}
			return index, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return d, nil
}

// readShard lists one shard, appending its samples to d, and returns its vocabulary;
// vocab receives the vocabulary and returns the label index to read the samples with.
func readShard(file string, open ShardOpener, d *Dataset, vocab func([]string) (map[string]int, error)) ([]string, error) {
	f, err := open(file)
	if err != nil {
		if errkind.IsUnavailable(err) {
			return nil, err
		}
		return nil, &InputError{File: file, Err: err}
	}
	defer f.Close()
	tr := tar.NewReader(f)
	hdr, err := tr.Next()
	if errkind.IsUnavailable(err) {
		return nil, err
	}
	if err != nil || hdr.Name != VocabularyMember {
		return nil, inputErrorf(file, 0, "not a multilabel tar shard: the first member must be %s", VocabularyMember)
	}
	var v struct {
		Labels []string `json:"labels"`
	}
	if err := json.NewDecoder(io.LimitReader(tr, maxLabelFile)).Decode(&v); err != nil {
		return nil, inputErrorf(file, 0, "%s: %v", VocabularyMember, err)
	}
	if err := checkVocabulary(v.Labels); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	index, err := vocab(v.Labels)
	if err != nil {
		return nil, err
	}
	type pending struct {
		key, img, ext string
		off, size     int64
		json          []byte
		hasJSON       bool
	}
	var cur pending
	flush := func() {
		if cur.key == "" {
			return
		}
		where := file + ":" + cur.key
		switch {
		case cur.img == "":
			d.Skipped = append(d.Skipped, where+": no image member")
		case !cur.hasJSON:
			d.Skipped = append(d.Skipped, where+": no .json member")
		default:
			s, truth, err := parseSampleJSON(cur.json, index)
			if err != nil {
				d.Skipped = append(d.Skipped, where+": "+err.Error())
				break
			}
			name := s.Image
			if name == "" {
				name = cur.key + "." + cur.ext
			}
			d.Samples = append(d.Samples, Sample{Image: name, Path: imageio.MemberPath(file, cur.off, cur.size, cur.img), Truth: truth})
		}
		cur = pending{}
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errkind.IsUnavailable(err) {
			return nil, err
		}
		if err != nil {
			flush()
			d.Skipped = append(d.Skipped, fmt.Sprintf("%s: archive ends early: %v", file, err))
			return v.Labels, nil
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		key, ext := memberKey(hdr.Name)
		if key != cur.key {
			flush()
			cur.key = key
		}
		switch {
		case strings.EqualFold(ext, "json") || strings.HasSuffix(strings.ToLower(ext), ".json"):
			if hdr.Size > maxSampleJSON {
				d.Skipped = append(d.Skipped, fmt.Sprintf("%s:%s: JSON member of %d bytes", file, hdr.Name, hdr.Size))
				cur.key = "" // drop the sample
				continue
			}
			b, err := io.ReadAll(tr)
			if errkind.IsUnavailable(err) {
				return nil, err
			}
			if err != nil {
				d.Skipped = append(d.Skipped, fmt.Sprintf("%s:%s: %v", file, hdr.Name, err))
				continue
			}
			cur.json, cur.hasJSON = b, true
		case imageio.HasImageExt(hdr.Name) && cur.img == "":
			off, err := f.Seek(0, io.SeekCurrent) // tar.Reader stops at the member's data
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			cur.img, cur.ext, cur.off, cur.size = hdr.Name, ext, off, hdr.Size
		}
	}
	flush()
	return v.Labels, nil
}
