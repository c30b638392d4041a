package shard

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/errkind"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Spec
	}{{"0/1", Spec{0, 1}}, {"3/4", Spec{3, 4}}, {"0/4", Spec{0, 4}}} {
		got, err := Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if got.String() != tc.in {
			t.Errorf("String() = %q, want %q", got.String(), tc.in)
		}
	}
	for _, in := range []string{"3/2", "2/2", "-1/4", "0/0", "1", "", "a/b", "1/4/5", " 1/4", "+1/4", "1/99999999999", "0/2000000"} {
		_, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q): no error", in)
			continue
		}
		if !errors.Is(err, ErrBadSpec) || !errkind.IsBadInput(err) {
			t.Errorf("Parse(%q): %v does not match ErrBadSpec and ErrBadInput", in, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) {
			t.Errorf("Parse(%q): error %q does not name the value", in, err)
		}
	}
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		flag string
		num  int
		env  func(string) string
		want Spec
		bad  string // substring of the error; "" for success
	}{
		{"", 0, env(), Spec{}, ""},
		{"1/3", 0, env(EnvIndex, "0", EnvNum, "5"), Spec{1, 3}, ""},
		{"1/3", 3, env(), Spec{1, 3}, ""},
		{"1/3", 4, env(), Spec{}, "--num-shards 4"},
		{"", 4, env(EnvIndex, "2"), Spec{2, 4}, ""},
		{"", 0, env(EnvIndex, "2", EnvNum, "4"), Spec{2, 4}, ""},
		{"", 3, env(EnvIndex, "2", EnvNum, "4"), Spec{2, 3}, ""},
		{"", 0, env(EnvIndex, "2"), Spec{}, EnvNum},
		{"", 2, env(EnvIndex, "2"), Spec{}, EnvIndex},
		{"", 2, env(EnvIndex, "x"), Spec{}, EnvIndex},
		{"", 0, env(EnvIndex, "0", EnvNum, "zero"), Spec{}, EnvNum},
		{"", 4, env(), Spec{}, "--num-shards 4"},
		{"", -1, env(), Spec{}, "--num-shards -1"},
		{"5/4", 0, env(), Spec{}, "--shard"},
	} {
		got, err := FromEnv(tc.flag, tc.num, tc.env)
		if tc.bad == "" {
			if err != nil || got != tc.want {
				t.Errorf("FromEnv(%q, %d) = %v, %v; want %v", tc.flag, tc.num, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.bad) || !errkind.IsBadInput(err) {
			t.Errorf("FromEnv(%q, %d) error %v, want a bad-input error naming %q", tc.flag, tc.num, err, tc.bad)
		}
	}
}

// TestSelect checks that the shards of a key list partition it, independently of the
// order of the list, and that the split is roughly even.
func TestSelect(t *testing.T) {
	t.Parallel()
	keys := make([]string, 3000)
	for i := range keys {
		keys[i] = fmt.Sprintf("images/%05d.jpg", i)
	}
	const n = 3
	owner := map[string]int{}
	for i := range n {
		s := Spec{I: i, N: n}
		idx := s.Select(keys)
		if len(idx) < 900 || len(idx) > 1100 {
			t.Errorf("shard %v holds %d of %d keys", s, len(idx), len(keys))
		}
		for _, k := range idx {
			if o, dup := owner[keys[k]]; dup {
				t.Fatalf("%s in shards %d and %d", keys[k], o, i)
			}
			owner[keys[k]] = i
		}
	}
	if len(owner) != len(keys) {
		t.Fatalf("%d of %d keys assigned", len(owner), len(keys))
	}
	// The assignment is a function of the key alone; pinned so that it never changes
	// between releases (workers of two versions must agree).
	if h := Hash("a.jpg"); h != 0x4c079bb53aa9b7c1 {
		t.Errorf("Hash(a.jpg) = %#x: the shard assignment changed", h)
	}
	if len((Spec{}).Select(keys)) != len(keys) {
		t.Error("the zero Spec does not select everything")
	}
}

func TestOutputName(t *testing.T) {
	t.Parallel()
	s := Spec{I: 1, N: 4}
	for in, want := range map[string]string{
		"f.npy":           "f.shard-1-of-4.npy",
		"out/feat.npy":    "out/feat.shard-1-of-4.npy",
		"preds.csv":       "preds.shard-1-of-4.csv",
		"out":             "out.shard-1-of-4",
		"a.b/out":         "a.b/out.shard-1-of-4",
		"s3://b/x/f.npy":  "s3://b/x/f.shard-1-of-4.npy",
		"f.npy.names.txt": "f.npy.names.shard-1-of-4.txt",
	} {
		if got := s.OutputName(in); got != want {
			t.Errorf("OutputName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := (Spec{}).OutputName("f.npy"); got != "f.npy" {
		t.Errorf("unsharded OutputName = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0/1", "3/4", "3/2", "-1/4", "0/0", "", "/", "1/", "99999/100000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s, err := Parse(v)
		if err != nil {
			if !errors.Is(err, ErrBadSpec) {
				t.Fatalf("Parse(%q): error %v does not wrap ErrBadSpec", v, err)
			}
			return
		}
		if s.I < 0 || s.I >= s.N || s.N > MaxShards {
			t.Fatalf("Parse(%q) = %v: out of range", v, s)
		}
		if again, err := Parse(s.String()); err != nil || again != s {
			t.Fatalf("round trip of %v: %v, %v", s, again, err)
		}
	})
}
