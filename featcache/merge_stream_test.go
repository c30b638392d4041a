package featcache

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/shard"
)

// TestMergeShardsStreams: merging three shards of a 6,000 × 512 matrix gives the bytes
// of the whole output and allocates far less than the matrix (the rows are streamed
// from memory maps to the file, not gathered).
func TestMergeShardsStreams(t *testing.T) {
	const n, dim, parts = 6000, 512, 3
	dir := t.TempDir()
	key := ModelKey{BackboneSHA256: "cafe", FeatureNode: "pool", Spec: imageio.Spec{}}
	whole := Output{Path: filepath.Join(dir, "whole.npy"), Key: key, Total: n, Selected: n, Dim: dim}
	for i := range n {
		whole.Index = append(whole.Index, i)
		whole.Names = append(whole.Names, "img"+string(rune('a'+i%26))+".jpg")
		for k := range dim {
			whole.Data = append(whole.Data, float32(i*dim+k)*0.25)
		}
	}
	if _, err := WriteOutput(whole); err != nil {
		t.Fatal(err)
	}
	var ins []string
	for p := range parts {
		s := shard.Spec{I: p, N: parts}
		o := Output{Path: s.OutputName(filepath.Join(dir, "f.npy")), Key: key, Shard: s, Total: n, Dim: dim}
		for i := p; i < n; i += parts {
			o.Index = append(o.Index, i)
			o.Names = append(o.Names, whole.Names[i])
			o.Data = append(o.Data, whole.Data[i*dim:(i+1)*dim]...)
		}
		o.Selected = len(o.Index)
		if _, err := WriteOutput(o); err != nil {
			t.Fatal(err)
		}
		ins = append(ins, o.Path)
	}
	whole.Data = nil
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out := filepath.Join(dir, "merged.npy")
	if _, err := MergeShards(out, ins); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	matrix := uint64(n * dim * 4)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > matrix/4 {
		t.Errorf("merge allocated %d bytes for a %d-byte matrix", alloc, matrix)
	} else {
		t.Logf("merge allocated %d bytes for a %d-byte matrix", alloc, matrix)
	}
	for _, suf := range []string{"", ".names.txt", ".manifest.json"} {
		a, _ := os.ReadFile(filepath.Join(dir, "whole.npy"+suf))
		b, _ := os.ReadFile(out + suf)
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("merged%s differs from the whole output", suf)
		}
	}
}
