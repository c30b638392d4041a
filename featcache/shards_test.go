package featcache

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/shard"
)

func testOutput(dir string, s shard.Spec, sha string, idx ...int) Output {
	o := Output{Path: s.OutputName(filepath.Join(dir, "f.npy")), Key: ModelKey{BackboneSHA256: sha, FeatureNode: "pool", Spec: imageio.Spec{}},
		Shard: s, Total: 4, Selected: len(idx), Index: idx, Dim: 2}
	for _, i := range idx {
		o.Names = append(o.Names, string(rune('a'+i)))
		o.Data = append(o.Data, float32(i), -float32(i))
	}
	return o
}

func TestMergeShardsRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := testOutput(dir, shard.Spec{I: 0, N: 2}, "aaaa", 0, 3)
	b := testOutput(dir, shard.Spec{I: 1, N: 2}, "bbbb", 1, 2)
	for _, o := range []Output{a, b} {
		if _, err := WriteOutput(o); err != nil {
			t.Fatal(err)
		}
	}
	_, err := MergeShards(filepath.Join(dir, "m.npy"), []string{a.Path, b.Path})
	if !errors.Is(err, ErrShardSet) || !errkind.IsBadInput(err) || !strings.Contains(err.Error(), "backbone") {
		t.Fatalf("two backbones: %v", err)
	}
	b.Key.BackboneSHA256 = "aaaa"
	if _, err := WriteOutput(b); err != nil {
		t.Fatal(err)
	}
	m, err := MergeShards(filepath.Join(dir, "m.npy"), []string{b.Path, a.Path})
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := ReadNPY(filepath.Join(dir, "m.npy"))
	if err != nil || m.Rows != 4 || data[2] != 1 || data[6] != 3 {
		t.Fatalf("merged %v %+v %v", data, m, err)
	}
	if !Complete(a.Path, a.Key, a.Shard, 4) || Complete(a.Path, a.Key, a.Shard, 5) || Complete(a.Path, b.Key, b.Shard, 4) {
		t.Fatal("Complete does not check the shard, the key and the dataset size")
	}
	// A run killed after rewriting the .npy but before the manifest: not complete, and the
	// merge refuses it (the old manifest was removed first; here it is forged back).
	old, _ := os.ReadFile(ManifestPath(a.Path))
	a.Data[0] = 42
	if _, err := WriteOutput(a); err != nil {
		t.Fatal(err)
	}
	a.Data[0] = 7
	if err := WriteNPY(a.Path, a.Data, 2, 2); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(ManifestPath(a.Path), old, 0o644)
	if Complete(a.Path, a.Key, a.Shard, 4) {
		t.Fatal("an .npy not matching its manifest reads as complete")
	}
	if _, err := MergeShards(filepath.Join(dir, "m2.npy"), []string{a.Path, b.Path}); !errors.Is(err, ErrShardSet) || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("mismatched shard: %v", err)
	}
}
