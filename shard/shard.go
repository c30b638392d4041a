// Package shard splits embarrassingly parallel work (feature extraction, batch
// prediction, evaluation) over independent worker processes, the way array schedulers
// run them: a Kubernetes Indexed Job sets $JOB_COMPLETION_INDEX in each pod, a Slurm
// array sets $SLURM_ARRAY_TASK_ID, and every worker runs the same command line.
//
// A Spec{I, N} names worker I of N. A sample belongs to worker I when the 64-bit FNV-1a
// hash of its key, modulo N, is I. The key is the sample's image reference as the label
// source writes it (the path relative to the images directory, with forward slashes; the
// member key inside a tar shard; for predict, the path as listed), so a worker's share
// depends neither on the listing order nor on where the data lives, and every worker
// computes it alone. Outputs carry the spec in their name (OutputName) and are joined
// in sample order by the merge of the package that wrote them (featcache.MergeShards).
package shard

import (
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/multilabel/multilabel/errkind"
)

// Environment variables read by FromEnv.
const (
	// EnvIndex is set by Kubernetes Indexed Jobs to the pod's completion index.
	EnvIndex = "JOB_COMPLETION_INDEX"
	// EnvNum gives the number of shards when --num-shards is not set.
	EnvNum = "MULTILABEL_NUM_SHARDS"
)

// MaxShards bounds N (a typo like 10000000 should not make ten million empty outputs).
const MaxShards = 1 << 20

// ErrBadSpec is wrapped by every error about an invalid shard spec; it matches
// errkind.ErrBadInput.
var ErrBadSpec = errkind.Sentinel("invalid shard spec", errkind.ErrBadInput)

// Spec is shard I of N (0 <= I < N). The zero value (N == 0) means "not sharded": every
// sample is selected and names are unchanged.
type Spec struct {
	I int `json:"index"`
	N int `json:"count"`
}

// Sharded reports whether s splits the work (N >= 1).
func (s Spec) Sharded() bool { return s.N > 0 }

// String is "I/N", or "" for the zero Spec.
func (s Spec) String() string {
	if !s.Sharded() {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.I, s.N)
}

// Validate checks 0 <= I < N <= MaxShards (the zero Spec is valid).
func (s Spec) Validate() error {
	if s == (Spec{}) {
		return nil
	}
	return s.validate()
}

func (s Spec) validate() error {
	if s.N < 1 || s.N > MaxShards {
		return fmt.Errorf("%w: %d shards: want 1 to %d", ErrBadSpec, s.N, MaxShards)
	}
	if s.I < 0 || s.I >= s.N {
		return fmt.Errorf("%w: shard index %d: want 0 <= I < N = %d", ErrBadSpec, s.I, s.N)
	}
	return nil
}

// Parse reads "I/N" (decimal, no signs or spaces), e.g. "0/4" … "3/4".
func Parse(v string) (Spec, error) {
	a, b, ok := strings.Cut(v, "/")
	if !ok {
		return Spec{}, fmt.Errorf("%w: %q: want I/N, e.g. 0/4", ErrBadSpec, v)
	}
	i, err1 := parseCount(a)
	n, err2 := parseCount(b)
	if err := errors.Join(err1, err2); err != nil {
		return Spec{}, fmt.Errorf("%w: %q: want I/N with 0 <= I < N: %w", ErrBadSpec, v, err)
	}
	s := Spec{I: i, N: n}
	if err := s.validate(); err != nil {
		return Spec{}, fmt.Errorf("%q: %w", v, err)
	}
	return s, nil
}

// parseCount reads a non-negative decimal number without sign, spaces or leading "+".
func parseCount(s string) (int, error) {
	if s == "" || len(s) > 9 {
		return 0, fmt.Errorf("%q is not a shard number", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a shard number", s)
		}
	}
	return strconv.Atoi(s)
}

// FromEnv resolves a command's shard: flag is the --shard value ("" when unset) and num
// the --num-shards value (0 when unset); getenv reads the environment (os.Getenv).
// --shard wins. Otherwise, when $JOB_COMPLETION_INDEX is set, it gives I and num or
// $MULTILABEL_NUM_SHARDS gives N (one of them is then required). With neither, num > 0
// alone is an error (no index), and nothing at all means not sharded. Errors name the
// flag or variable at fault and wrap ErrBadSpec.
func FromEnv(flag string, num int, getenv func(string) string) (Spec, error) {
	if flag != "" {
		s, err := Parse(flag)
		if err != nil {
			return Spec{}, fmt.Errorf("--shard %w", err)
		}
		if num != 0 && num != s.N {
			return Spec{}, fmt.Errorf("%w: --shard %s contradicts --num-shards %d", ErrBadSpec, flag, num)
		}
		return s, nil
	}
	if num < 0 {
		return Spec{}, fmt.Errorf("%w: --num-shards %d: want >= 1", ErrBadSpec, num)
	}
	idx := strings.TrimSpace(getenv(EnvIndex))
	if idx == "" {
		if num > 0 {
			return Spec{}, fmt.Errorf("%w: --num-shards %d without a shard index: set --shard I/%d or $%s", ErrBadSpec, num, num, EnvIndex)
		}
		return Spec{}, nil
	}
	i, err := parseCount(idx)
	if err != nil {
		return Spec{}, fmt.Errorf("%w: $%s: %w", ErrBadSpec, EnvIndex, err)
	}
	n := num
	if n == 0 {
		v := strings.TrimSpace(getenv(EnvNum))
		if v == "" {
			return Spec{}, fmt.Errorf("%w: $%s=%s but the number of shards is unknown: set --num-shards or $%s", ErrBadSpec, EnvIndex, idx, EnvNum)
		}
		if n, err = parseCount(v); err != nil {
			return Spec{}, fmt.Errorf("%w: $%s: %w", ErrBadSpec, EnvNum, err)
		}
	}
	s := Spec{I: i, N: n}
	if err := s.validate(); err != nil {
		return Spec{}, fmt.Errorf("$%s=%s with %d shards: %w", EnvIndex, idx, n, err)
	}
	return s, nil
}

// Hash is the stable hash that assigns keys to shards: 64-bit FNV-1a of the key's bytes.
func Hash(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

// Has reports whether the sample with this key belongs to s (always, when not sharded).
func (s Spec) Has(key string) bool {
	if !s.Sharded() {
		return true
	}
	return Hash(key)%uint64(s.N) == uint64(s.I)
}

// Select returns the indices of keys that belong to s, in order.
func (s Spec) Select(keys []string) []int {
	idx := make([]int, 0, len(keys)/max(1, s.N)+1)
	for i, k := range keys {
		if s.Has(k) {
			idx = append(idx, i)
		}
	}
	return idx
}

// OutputName inserts ".shard-I-of-N" before the extension of path: "f.npy" becomes
// "f.shard-1-of-4.npy", "preds.csv" "preds.shard-1-of-4.csv", "out" "out.shard-1-of-4".
// The zero Spec returns path unchanged.
func (s Spec) OutputName(path string) string {
	if !s.Sharded() {
		return path
	}
	ext := filepath.Ext(path)
	if strings.ContainsRune(ext, '/') || ext == path || strings.HasSuffix(strings.TrimSuffix(path, ext), "/") {
		ext = ""
	}
	return strings.TrimSuffix(path, ext) + fmt.Sprintf(".shard-%d-of-%d", s.I, s.N) + ext
}
