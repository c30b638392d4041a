package featcache

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/internal/fsutil"
	"github.com/multilabel/multilabel/shard"
)

// A features output is three files: OUT (the .npy matrix), OUT.names.txt (one image
// reference per row) and OUT.manifest.json, written last, which says what produced them
// (backbone sha256, feature node, preprocessing), which shard of the dataset they hold,
// the dataset index of every row and the sha256 of the two other files. An output
// without its manifest, or whose files do not match it, is incomplete: a killed run
// leaves nothing that looks complete, and a rerun of a complete shard can skip it.

// manifestVersion changes when the manifest's meaning changes.
const manifestVersion = 1

// ErrShardSet is wrapped by MergeShards' errors about its inputs (a missing, duplicate,
// incomplete or mismatched shard); it matches errkind.ErrBadInput.
var ErrShardSet = errkind.Sentinel("featcache: bad shard set", errkind.ErrBadInput)

// Manifest describes a features output (see WriteOutput).
type Manifest struct {
	Version int    `json:"version"`
	Kind    string `json:"kind"` // "features"
	ModelKey
	// Shard is the part of the dataset the output holds; zero for a whole dataset.
	Shard shard.Spec `json:"shard"`
	// Total is the number of samples of the whole dataset, Selected those of the shard.
	Total    int `json:"total"`
	Selected int `json:"selected"`
	// Rows and Dim are the shape of the matrix; Index[r] is the dataset index of row r
	// (increasing).
	Rows  int   `json:"rows"`
	Dim   int   `json:"dim"`
	Index []int `json:"index"`
	// NPYSHA256 and NamesSHA256 are the sha256 of the two data files.
	NPYSHA256   string `json:"npy_sha256"`
	NamesSHA256 string `json:"names_sha256"`
}

// NamesPath and ManifestPath name the files beside a features .npy file.
func NamesPath(npy string) string    { return npy + ".names.txt" }
func ManifestPath(npy string) string { return npy + ".manifest.json" }

// Output is what WriteOutput writes.
type Output struct {
	// Path is the .npy file (already carrying the shard name, see shard.Spec.OutputName).
	Path  string
	Key   ModelKey
	Shard shard.Spec
	// Total and Selected are the dataset's and the shard's numbers of samples.
	Total, Selected int
	// Index, Names and Data hold the usable rows: dataset index, image reference and
	// Dim values each, in dataset order.
	Index []int
	Names []string
	Data  []float32
	Dim   int
}

// WriteOutput writes o's .npy, names file and manifest, each atomically, the manifest
// last; any previous manifest is removed first, so until the new one appears the output
// reads as incomplete.
func WriteOutput(o Output) (*Manifest, error) {
	if len(o.Index) != len(o.Names) || len(o.Data) != len(o.Index)*o.Dim {
		return nil, fmt.Errorf("featcache: output %s: %d indices, %d names and %d values of dim %d", o.Path, len(o.Index), len(o.Names), len(o.Data), o.Dim)
	}
	if !slices.IsSorted(o.Index) {
		return nil, fmt.Errorf("featcache: output %s: rows not in dataset order", o.Path)
	}
	mp := ManifestPath(o.Path)
	if err := os.Remove(mp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("featcache: removing the old manifest %s: %w", mp, err)
	}
	if err := os.MkdirAll(filepath.Dir(o.Path), 0o755); err != nil {
		return nil, fmt.Errorf("featcache: %s: %w", o.Path, err)
	}
	var npy, names bytes.Buffer
	if err := EncodeNPY(&npy, o.Data, len(o.Index), o.Dim); err != nil {
		return nil, fmt.Errorf("featcache: %s: %w", o.Path, err)
	}
	for _, l := range o.Names {
		if strings.ContainsAny(l, "\r\n") {
			return nil, fmt.Errorf("featcache: %s: image name %q contains a line break", NamesPath(o.Path), l)
		}
		names.WriteString(l)
		names.WriteByte('\n')
	}
	m := &Manifest{Version: manifestVersion, Kind: "features", ModelKey: o.Key, Shard: o.Shard,
		Total: o.Total, Selected: o.Selected, Rows: len(o.Index), Dim: o.Dim, Index: o.Index,
		NPYSHA256: sum256(npy.Bytes()), NamesSHA256: sum256(names.Bytes())}
	if m.Index == nil {
		m.Index = []int{}
	}
	mb, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(NamesPath(o.Path), names.Bytes(), true); err != nil {
		return nil, fmt.Errorf("featcache: %s: %w", NamesPath(o.Path), err)
	}
	if err := writeAtomic(o.Path, npy.Bytes(), true); err != nil {
		return nil, fmt.Errorf("featcache: %s: %w", o.Path, err)
	}
	if err := writeAtomic(mp, append(mb, '\n'), true); err != nil {
		return nil, fmt.Errorf("featcache: %s: %w", mp, err)
	}
	return m, nil
}

func sum256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ReadManifest reads the manifest of the features output at npy.
func ReadManifest(npy string) (*Manifest, error) {
	mp := ManifestPath(npy)
	b, err := os.ReadFile(mp)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s is incomplete: no manifest %s (the run that writes it was killed or has not finished)", ErrShardSet, npy, mp)
		}
		return nil, fmt.Errorf("featcache: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest %s: %w", ErrShardSet, mp, err)
	}
	if m.Version != manifestVersion || m.Kind != "features" {
		return nil, fmt.Errorf("%w: manifest %s: version %d kind %q, want %d %q", ErrShardSet, mp, m.Version, m.Kind, manifestVersion, "features")
	}
	if err := m.Shard.Validate(); err != nil {
		return nil, fmt.Errorf("%w: manifest %s: %w", ErrShardSet, mp, err)
	}
	if len(m.Index) != m.Rows {
		return nil, fmt.Errorf("%w: manifest %s: %d indices for %d rows", ErrShardSet, mp, len(m.Index), m.Rows)
	}
	return &m, nil
}

// Complete reports whether the features output at npy is complete and was made for this
// key, shard and dataset size, so that a rerun can skip the work. A missing or
// mismatched output is simply not complete.
func Complete(npy string, key ModelKey, s shard.Spec, total int) bool {
	m, mp, _, err := openOutput(npy)
	if err != nil {
		return false
	}
	mp.Close()
	return m.ModelKey.ID() == key.ID() && m.Shard == s && m.Total == total
}

// MergeShards joins the complete shard outputs ins (.npy paths, any order) of one
// sharded run into the output out, rows in dataset order: the result is byte for byte
// the output of one process over the whole dataset (manifest included). It refuses,
// wrapping ErrShardSet and naming the file, an incomplete shard, shards of different
// runs (backbone, feature node, preprocessing, number of shards, dataset size, dimension),
// a shard given twice and a missing one. out is written like WriteOutput writes.
func MergeShards(out string, ins []string) (*Manifest, error) {
	if len(ins) == 0 {
		return nil, fmt.Errorf("%w: no shards to merge", ErrShardSet)
	}
	// The shards' features are read through memory maps and written a row at a time:
	// memory holds the names and indices, not the matrices.
	type part struct {
		path     string
		m        *Manifest
		mp       *Mapped
		names    []string
		released int // rows before this one are released
	}
	var parts []*part
	defer func() {
		for _, p := range parts {
			p.mp.Close()
		}
	}()
	byIndex := map[int]string{}
	for _, p := range ins {
		m, mp, names, err := openOutput(p)
		if err != nil {
			return nil, err
		}
		parts = append(parts, &part{path: p, m: m, mp: mp, names: names})
		if !m.Shard.Sharded() {
			return nil, fmt.Errorf("%w: %s is not a shard (it holds a whole dataset)", ErrShardSet, p)
		}
		if len(parts) > 1 {
			if err := sameRun(parts[0].path, parts[0].m, p, m); err != nil {
				return nil, err
			}
		}
		if prev, dup := byIndex[m.Shard.I]; dup {
			return nil, fmt.Errorf("%w: shard %s given twice: %s and %s", ErrShardSet, m.Shard, prev, p)
		}
		byIndex[m.Shard.I] = p
	}
	first := parts[0].m
	var missing []string
	for i := range first.Shard.N {
		if _, ok := byIndex[i]; !ok {
			missing = append(missing, shard.Spec{I: i, N: first.Shard.N}.String())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: missing shard(s) %s of %d (have %d: %s, ...)", ErrShardSet,
			strings.Join(missing, ", "), first.Shard.N, len(parts), parts[0].path)
	}
	// Rows in dataset order (each part is sorted; a sort of (part, row) pairs is simple
	// and fast enough next to reading the files).
	type row struct{ part, r int }
	var rows []row
	selected := 0
	for pi, p := range parts {
		selected += p.m.Selected
		for r := range p.m.Rows {
			rows = append(rows, row{pi, r})
		}
	}
	if selected != first.Total {
		return nil, fmt.Errorf("%w: the shards select %d samples of a dataset of %d", ErrShardSet, selected, first.Total)
	}
	slices.SortFunc(rows, func(a, b row) int { return parts[a.part].m.Index[a.r] - parts[b.part].m.Index[b.r] })
	index := make([]int, len(rows))
	var names bytes.Buffer
	for k, rw := range rows {
		p := parts[rw.part]
		index[k] = p.m.Index[rw.r]
		if k > 0 && index[k] == index[k-1] {
			return nil, fmt.Errorf("%w: sample %d in two shards (%s and another)", ErrShardSet, index[k], p.path)
		}
		l := p.names[rw.r]
		if strings.ContainsAny(l, "\r\n") {
			return nil, fmt.Errorf("featcache: %s: image name %q contains a line break", NamesPath(out), l)
		}
		names.WriteString(l)
		names.WriteByte('\n')
	}
	// As WriteOutput: the old manifest goes first, then the names, the .npy, the manifest.
	mp := ManifestPath(out)
	if err := os.Remove(mp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("featcache: removing the old manifest %s: %w", mp, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, fmt.Errorf("featcache: %s: %w", out, err)
	}
	if err := writeAtomic(NamesPath(out), names.Bytes(), true); err != nil {
		return nil, fmt.Errorf("featcache: %s: %w", NamesPath(out), err)
	}
	dim := first.Dim
	h := sha256.New()
	err := fsutil.WriteWith(out, 0o600, func(w io.Writer) error {
		bw := bufio.NewWriterSize(io.MultiWriter(w, h), 1<<16)
		bw.Write(npyHeaderF4(len(rows), dim))
		var buf []float32
		b := make([]byte, 4*dim)
		for _, rw := range rows {
			p := parts[rw.part]
			buf = p.mp.Row(rw.r, buf)
			for j, v := range buf {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(v))
			}
			if _, err := bw.Write(b); err != nil {
				return err
			}
			if rw.r-p.released >= mergeRelease {
				p.mp.Release(p.released, rw.r)
				p.released = rw.r
			}
		}
		return bw.Flush()
	})
	if err != nil {
		return nil, fmt.Errorf("featcache: %s: %w", out, err)
	}
	m := &Manifest{Version: manifestVersion, Kind: "features", ModelKey: first.ModelKey,
		Total: first.Total, Selected: selected, Rows: len(rows), Dim: dim, Index: index,
		NPYSHA256: hex.EncodeToString(h.Sum(nil)), NamesSHA256: sum256(names.Bytes())}
	mb, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(mp, append(mb, '\n'), true); err != nil {
		return nil, fmt.Errorf("featcache: %s: %w", mp, err)
	}
	return m, nil
}

// mergeRelease is how many rows of a shard MergeShards reads before releasing them.
const mergeRelease = 4096

// openOutput opens a features output without reading its matrix into memory: it reads
// the manifest, checks the .npy and the names file against it (sha256, the .npy streamed),
// and maps the matrix. Every failure wraps ErrShardSet and names the file.
func openOutput(npy string) (*Manifest, *Mapped, []string, error) {
	m, err := ReadManifest(npy)
	if err != nil {
		return nil, nil, nil, err
	}
	f, err := os.Open(npy)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %s: %w", ErrShardSet, npy, err)
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %s: %w", ErrShardSet, npy, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != m.NPYSHA256 {
		return nil, nil, nil, fmt.Errorf("%w: %s does not match its manifest (sha256): rewritten by an unfinished run?", ErrShardSet, npy)
	}
	np := NamesPath(npy)
	nb, err := os.ReadFile(np)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %s: %w", ErrShardSet, np, err)
	}
	if sum256(nb) != m.NamesSHA256 {
		return nil, nil, nil, fmt.Errorf("%w: %s does not match its manifest (sha256)", ErrShardSet, np)
	}
	names := strings.Split(string(nb), "\n")
	names = names[:len(names)-1]
	if len(names) != m.Rows {
		return nil, nil, nil, fmt.Errorf("%w: %s: %d names for %d rows", ErrShardSet, np, len(names), m.Rows)
	}
	mp, err := OpenMapped(npy)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrShardSet, err)
	}
	if mp.Rows != m.Rows || mp.Dim != m.Dim || mp.Half {
		mp.Close()
		return nil, nil, nil, fmt.Errorf("%w: %s: shape [%d, %d] (float16 %v), its manifest says [%d, %d] float32", ErrShardSet, npy, mp.Rows, mp.Dim, mp.Half, m.Rows, m.Dim)
	}
	return m, mp, names, nil
}

func sameRun(p0 string, m0 *Manifest, p string, m *Manifest) error {
	diff := func(what string, a, b any) error {
		return fmt.Errorf("%w: %s and %s come from different runs: %s %v vs %v", ErrShardSet, p0, p, what, a, b)
	}
	switch {
	case m.BackboneSHA256 != m0.BackboneSHA256:
		return diff("backbone sha256", short(m0.BackboneSHA256), short(m.BackboneSHA256))
	case m.FeatureNode != m0.FeatureNode:
		return diff("feature node (cut)", m0.FeatureNode, m.FeatureNode)
	case m.Pool != m0.Pool:
		return diff("pooling", poolName(m0.Pool), poolName(m.Pool))
	case m.ModelKey.ID() != m0.ModelKey.ID():
		return diff("preprocessing", m0.Spec, m.Spec)
	case m.Shard.N != m0.Shard.N:
		return diff("number of shards", m0.Shard.N, m.Shard.N)
	case m.Total != m0.Total:
		return diff("dataset size", m0.Total, m.Total)
	case m.Dim != m0.Dim:
		return diff("feature dimension", m0.Dim, m.Dim)
	}
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func poolName(p string) string {
	if p == "" {
		return "avg"
	}
	return p
}

// OpenOutput opens the complete features output at npy (a merged set, or one shard)
// without reading its matrix into memory: the manifest, the .npy and the names file are
// checked against each other (sha256, shape), the matrix is mapped (Mapped) and the
// names (one per row) are returned. Errors wrap ErrShardSet and name the file. The
// caller closes the Mapped.
func OpenOutput(npy string) (*Manifest, *Mapped, []string, error) {
	return openOutput(npy)
}

// Mismatch compares the key the features of m were made with to want (the key of the
// backbone, cut, preprocessing and pooling a run would use) and returns one phrase per
// field that differs ("backbone sha256 abc… vs def…"), none when they match.
func (m *Manifest) Mismatch(want ModelKey) []string {
	var d []string
	if m.BackboneSHA256 != want.BackboneSHA256 {
		d = append(d, fmt.Sprintf("backbone sha256 %s vs %s", short(m.BackboneSHA256), short(want.BackboneSHA256)))
	}
	if m.FeatureNode != want.FeatureNode {
		d = append(d, fmt.Sprintf("cut (feature node) %q vs %q", m.FeatureNode, want.FeatureNode))
	}
	if m.Pool != want.Pool {
		d = append(d, fmt.Sprintf("pooling %s vs %s", poolName(m.Pool), poolName(want.Pool)))
	}
	if m.Spatial != want.Spatial {
		d = append(d, fmt.Sprintf("spatial maps %v vs %v", m.Spatial, want.Spatial))
	}
	if m.View != want.View {
		d = append(d, fmt.Sprintf("view %s vs %s", viewName(m.View), viewName(want.View)))
	}
	if len(d) == 0 && m.ModelKey.ID() != want.ID() {
		d = append(d, fmt.Sprintf("preprocessing %s vs %s", m.Spec.Describe(), want.Spec.Describe()))
	}
	return d
}

// viewName names a key's view for messages: the empty view is the original images.
func viewName(v string) string {
	if v == "" {
		return "original"
	}
	return v
}
