package dataset

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/imageio"
)

// packFixture writes n fake image files and a dataset over them.
func packFixture(t *testing.T, n int) (*Dataset, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	d := &Dataset{Labels: []string{"cat", "dog", "bird"}, Format: "csv-list"}
	content := map[string][]byte{}
	for i := range n {
		name := fmt.Sprintf("sub/img%02d.jpg", i)
		if i%4 == 3 {
			name = fmt.Sprintf("p%02d.png", i)
		}
		b := bytes.Repeat([]byte{byte(i)}, 300+i*50)
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		content[name] = b
		d.Samples = append(d.Samples, Sample{Image: name, Path: p, Truth: []int8{int8(i % 2), Unknown * int8(i%3/2), 0}})
	}
	d.Samples = append(d.Samples, Sample{Image: "gone.jpg", Path: filepath.Join(dir, "gone.jpg"), Truth: []int8{1, 0, 0}})
	return d, content
}

func TestPackAndLoadWDS(t *testing.T) {
	t.Parallel()
	d, content := packFixture(t, 10)
	out := t.TempDir()
	res, err := Pack(context.Background(), d, PackOptions{Pattern: filepath.Join(out, "train-%06d.tar"), ShardSize: 1500})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Shards) < 3 || res.Samples != 10 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "gone.jpg") {
		t.Fatalf("pack: %+v", res)
	}
	for _, pattern := range []string{
		filepath.Join(out, fmt.Sprintf("train-{000000..%06d}.tar", len(res.Shards)-1)),
		filepath.Join(out, "train-*.tar"),
	} {
		got, err := Load(pattern, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Format != "wds" || !slices.Equal(got.Labels, d.Labels) || len(got.Samples) != 10 || len(got.Skipped) != 0 {
			t.Fatalf("%s: %d samples, labels %v, skipped %v", pattern, len(got.Samples), got.Labels, got.Skipped)
		}
		for i, s := range got.Samples {
			want := d.Samples[i]
			if s.Image != want.Image || !slices.Equal(s.Truth, want.Truth) {
				t.Fatalf("sample %d: %s %v, want %s %v", i, s.Image, s.Truth, want.Image, want.Truth)
			}
			b, err := imageio.ReadFile(s.Path)
			if err != nil || !bytes.Equal(b, content[s.Image]) {
				t.Fatalf("sample %d (%s): image bytes differ: %v", i, s.Path, err)
			}
		}
	}
	// Packing is deterministic.
	out2 := t.TempDir()
	if _, err := Pack(context.Background(), d, PackOptions{Pattern: filepath.Join(out2, "train-%06d.tar"), ShardSize: 1500}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(res.Shards[0])
	b, _ := os.ReadFile(filepath.Join(out2, "train-000000.tar"))
	if !bytes.Equal(a, b) {
		t.Error("two packs of the same dataset differ")
	}
	// A fixed vocabulary in another order is honoured.
	got, err := Load(filepath.Join(out, "train-*.tar"), Options{Labels: []string{"bird", "dog", "cat"}})
	if err != nil || got.Labels[0] != "bird" || got.Samples[1].Truth[2] != Positive {
		t.Fatalf("Labels option: %v %v", got, err)
	}
	for _, bad := range []string{"x.tar", "train-%d-%d.tar", "train.tar", "train-%06d.zip"} {
		if _, err := Pack(context.Background(), d, PackOptions{Pattern: filepath.Join(out, bad)}); !IsBadInput(err) {
			t.Errorf("pattern %s: %v", bad, err)
		}
	}
}

// TestLoadWDSBadMembers: samples without an image or JSON member, or with a bad JSON,
// are skipped and listed; a file that is not a shard is an input error.
func TestLoadWDSBadMembers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name, data string) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write([]byte(data))
	}
	add(VocabularyMember, `{"labels":["a","b"]}`)
	add("k1.jpg", "img1")
	add("k1.json", `{"labels":["a"]}`)
	add("k2.jpg", "img2") // no JSON
	add("k3.json", `{"labels":["a"]}`)
	add("k4.jpg", "img4")
	add("k4.json", `{"labels":["zebra"]}`)
	add("k5.jpg", "img5")
	add("k5.json", `{"labels":`)
	add("dir/k6.v2.png", "img6")
	add("dir/k6.v2.json", `{"labels":["b"],"unknown":["a"]}`)
	tw.Close()
	p := filepath.Join(dir, "s.tar")
	os.WriteFile(p, buf.Bytes(), 0o644)
	d, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Samples) != 2 || len(d.Skipped) != 4 {
		t.Fatalf("samples %v skipped %v", d.Samples, d.Skipped)
	}
	if d.Samples[1].Image != "dir/k6.v2.png" || !slices.Equal(d.Samples[1].Truth, []int8{Unknown, Positive}) {
		t.Fatalf("sample 2: %+v", d.Samples[1])
	}
	if b, err := imageio.ReadFile(d.Samples[0].Path); err != nil || string(b) != "img1" {
		t.Fatalf("member read %q %v", b, err)
	}
	os.WriteFile(filepath.Join(dir, "plain.tar"), []byte("not a tar at all"), 0o644)
	if _, err := Load(filepath.Join(dir, "plain.tar"), Options{}); !IsBadInput(err) {
		t.Fatalf("not a shard: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "none-{0..3}.tar"), Options{}); !IsBadInput(err) {
		t.Fatalf("missing shards: %v", err)
	}
}

func TestExpandBraces(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		"a-{000..002}.tar": {"a-000.tar", "a-001.tar", "a-002.tar"},
		"a-{8..10}.tar":    {"a-8.tar", "a-9.tar", "a-10.tar"},
		"{x,y}/{1..2}":     {"x/1", "x/2", "y/1", "y/2"},
		"plain.tar":        {"plain.tar"},
		"{09..11}":         {"09", "10", "11"},
	} {
		got, err := ExpandBraces(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ExpandBraces(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"{", "}", "a{1..}", "{3..1}", "{a..b}", "{{1..2}}", "{x}", "{0..99999999}", "{0..999}{0..999}{0..9}"} {
		if _, err := ExpandBraces(in); err == nil {
			t.Errorf("ExpandBraces(%q): no error", in)
		}
	}
}

func FuzzExpandBraces(f *testing.F) {
	for _, s := range []string{"a-{000..009}.tar", "{x,y}{1..3}", "{", "{1..0}", "}{", "{0..1048576}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		out, err := ExpandBraces(p)
		if err != nil {
			return
		}
		if len(out) == 0 || len(out) > maxExpansion {
			t.Fatalf("%q: %d names", p, len(out))
		}
		if !strings.ContainsAny(p, "{}") && (len(out) != 1 || out[0] != p) {
			t.Fatalf("%q without braces expanded to %v", p, out)
		}
	})
}

func FuzzSampleJSON(f *testing.F) {
	for _, s := range []string{`{"labels":["a"]}`, `{"labels":["a"],"unknown":["a"]}`, `{"image":"x\n"}`, `[]`, `{"labels":null}`} {
		f.Add([]byte(s))
	}
	index := map[string]int{"a": 0, "b": 1}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, truth, err := parseSampleJSON(b, index)
		if err != nil {
			return
		}
		if len(truth) != 2 {
			t.Fatalf("truth %v", truth)
		}
		for _, v := range truth {
			if v != Positive && v != Negative && v != Unknown {
				t.Fatalf("truth value %d", v)
			}
		}
	})
}
