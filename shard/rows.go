package shard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/multilabel/multilabel/internal/fsutil"
)

// A row file is a text output with one header line and one line per sample (a
// predictions CSV), with a manifest beside it (ManifestPath) written last: what produced
// it (Producer: a model id, a backbone hash), which shard it holds and the sample index
// of every line. A row file without a manifest, or whose bytes do not match it, is
// incomplete. MergeRows joins the row files of every shard into the file one process
// would have written.

// rowsVersion changes when the row manifest's meaning changes.
const rowsVersion = 1

// ErrShardSet is wrapped by MergeRows' errors about its inputs (a missing, duplicate,
// incomplete or mismatched shard); it matches errkind.ErrBadInput through ErrBadSpec's kind.
var ErrShardSet = fmt.Errorf("%w: bad shard set", ErrBadSpec)

// RowsManifest describes a row file.
type RowsManifest struct {
	Version int `json:"version"`
	// Kind says what the rows are ("predictions"); Producer what made them (a model id).
	Kind     string `json:"kind"`
	Producer string `json:"producer"`
	Shard    Spec   `json:"shard"`
	// Total is the number of samples of the whole run, Selected those of the shard; Index
	// holds the sample index of every row (increasing).
	Total    int    `json:"total"`
	Selected int    `json:"selected"`
	Index    []int  `json:"index"`
	SHA256   string `json:"sha256"`
}

// ManifestPath names the manifest beside an output.
func ManifestPath(out string) string { return out + ".manifest.json" }

// WriteRows writes header and rows (no line breaks inside) to path and then m (with
// Index set to index) to ManifestPath(path), each atomically; a previous manifest is
// removed first, so until the new one appears the output reads as incomplete.
func WriteRows(path string, m RowsManifest, header string, rows []string, index []int) error {
	if len(rows) != len(index) || !slices.IsSorted(index) {
		return fmt.Errorf("shard: %s: %d rows for %d indices, or indices out of order", path, len(rows), len(index))
	}
	mp := ManifestPath(path)
	if err := os.Remove(mp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("shard: removing the old manifest %s: %w", mp, err)
	}
	var b bytes.Buffer
	for _, l := range append([]string{header}, rows...) {
		if strings.ContainsAny(l, "\r\n") {
			return fmt.Errorf("shard: %s: line %q contains a line break", path, l)
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	m.Version, m.Index, m.SHA256 = rowsVersion, index, sum256(b.Bytes())
	if m.Index == nil {
		m.Index = []int{}
	}
	mb, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("shard: %s: %w", path, err)
	}
	if err := fsutil.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("shard: writing %s: %w", path, err)
	}
	if err := fsutil.WriteFile(mp, append(mb, '\n'), 0o644); err != nil {
		return fmt.Errorf("shard: writing %s: %w", mp, err)
	}
	return nil
}

func sum256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ReadRows reads a complete row file: its manifest, header and rows.
func ReadRows(path string) (*RowsManifest, string, []string, error) {
	mp := ManifestPath(path)
	mb, err := os.ReadFile(mp)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil, fmt.Errorf("%w: %s is incomplete: no manifest %s (its run was killed or has not finished)", ErrShardSet, path, mp)
		}
		return nil, "", nil, err
	}
	var m RowsManifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, "", nil, fmt.Errorf("%w: manifest %s: %w", ErrShardSet, mp, err)
	}
	if m.Version != rowsVersion {
		return nil, "", nil, fmt.Errorf("%w: manifest %s: version %d, want %d", ErrShardSet, mp, m.Version, rowsVersion)
	}
	if err := m.Shard.Validate(); err != nil {
		return nil, "", nil, fmt.Errorf("%w: manifest %s: %w", ErrShardSet, mp, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", nil, fmt.Errorf("%w: %s: %w", ErrShardSet, path, err)
	}
	if sum256(b) != m.SHA256 {
		return nil, "", nil, fmt.Errorf("%w: %s does not match its manifest (sha256): rewritten by an unfinished run?", ErrShardSet, path)
	}
	lines := strings.Split(string(b), "\n")
	lines = lines[:len(lines)-1]
	if len(lines) != len(m.Index)+1 {
		return nil, "", nil, fmt.Errorf("%w: %s: %d rows, its manifest lists %d", ErrShardSet, path, len(lines)-1, len(m.Index))
	}
	return &m, lines[0], lines[1:], nil
}

// RowsComplete reports whether the row file at path is complete and was made by
// producer for shard s of a run over total samples.
func RowsComplete(path, kind, producer string, s Spec, total int) bool {
	m, _, _, err := ReadRows(path)
	return err == nil && m.Kind == kind && m.Producer == producer && m.Shard == s && m.Total == total
}

// MergeRows joins the complete row files ins (any order) of every shard of one run into
// out, rows in sample order: the file one process over everything writes, manifest
// included. It refuses, wrapping ErrShardSet and naming the file, an incomplete shard,
// shards of different runs (kind, producer, header, number of shards, total), a
// duplicate and a missing shard.
func MergeRows(out string, ins []string) (*RowsManifest, error) {
	if len(ins) == 0 {
		return nil, fmt.Errorf("%w: no shards to merge", ErrShardSet)
	}
	type part struct {
		path string
		m    *RowsManifest
		rows []string
	}
	var parts []part
	var header string
	byIndex := map[int]string{}
	for _, p := range ins {
		m, h, rows, err := ReadRows(p)
		if err != nil {
			return nil, err
		}
		if !m.Shard.Sharded() {
			return nil, fmt.Errorf("%w: %s is not a shard (it holds a whole run)", ErrShardSet, p)
		}
		if len(parts) > 0 {
			m0 := parts[0].m
			switch {
			case m.Kind != m0.Kind || m.Producer != m0.Producer:
				return nil, fmt.Errorf("%w: %s and %s come from different runs: %s %q vs %s %q", ErrShardSet, parts[0].path, p, m0.Kind, m0.Producer, m.Kind, m.Producer)
			case h != header:
				return nil, fmt.Errorf("%w: %s and %s have different headers", ErrShardSet, parts[0].path, p)
			case m.Shard.N != m0.Shard.N || m.Total != m0.Total:
				return nil, fmt.Errorf("%w: %s and %s come from different runs: %d vs %d shards over %d vs %d samples", ErrShardSet, parts[0].path, p, m0.Shard.N, m.Shard.N, m0.Total, m.Total)
			}
		}
		header = h
		if prev, dup := byIndex[m.Shard.I]; dup {
			return nil, fmt.Errorf("%w: shard %s given twice: %s and %s", ErrShardSet, m.Shard, prev, p)
		}
		byIndex[m.Shard.I] = p
		parts = append(parts, part{p, m, rows})
	}
	m0 := parts[0].m
	var missing []string
	for i := range m0.Shard.N {
		if _, ok := byIndex[i]; !ok {
			missing = append(missing, Spec{I: i, N: m0.Shard.N}.String())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: missing shard(s) %s of %d (have %d: %s, ...)", ErrShardSet, strings.Join(missing, ", "), m0.Shard.N, len(parts), parts[0].path)
	}
	type row struct{ part, r int }
	var all []row
	selected := 0
	for pi, p := range parts {
		selected += p.m.Selected
		for r := range p.rows {
			all = append(all, row{pi, r})
		}
	}
	if selected != m0.Total {
		return nil, fmt.Errorf("%w: the shards select %d samples of %d", ErrShardSet, selected, m0.Total)
	}
	slices.SortFunc(all, func(a, b row) int { return parts[a.part].m.Index[a.r] - parts[b.part].m.Index[b.r] })
	rows := make([]string, len(all))
	index := make([]int, len(all))
	for k, rw := range all {
		index[k] = parts[rw.part].m.Index[rw.r]
		if k > 0 && index[k] == index[k-1] {
			return nil, fmt.Errorf("%w: sample %d in two shards (%s and another)", ErrShardSet, index[k], parts[rw.part].path)
		}
		rows[k] = parts[rw.part].rows[rw.r]
	}
	m := RowsManifest{Kind: m0.Kind, Producer: m0.Producer, Total: m0.Total, Selected: selected}
	if err := WriteRows(out, m, header, rows, index); err != nil {
		return nil, err
	}
	m.Version, m.Index = rowsVersion, index
	return &m, nil
}
