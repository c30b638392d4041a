package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/engine/enginetest"
	"github.com/multilabel/multilabel/model/modeltest"
)

// shardFixture writes n small distinct JPEGs (plus one unreadable file) and a list CSV.
func shardFixture(t *testing.T, n int) (dir string) {
	t.Helper()
	dir = t.TempDir()
	var csv strings.Builder
	csv.WriteString("image,labels\n")
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 16, 12))
		for p := range img.Pix {
			img.Pix[p] = uint8(i*37 + p*(i+1))
		}
		img.Set(0, 0, color.RGBA{uint8(i), 0, 0, 255})
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, nil); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("img%02d.jpg", i)
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&csv, "%s,%s\n", name, []string{"cat", "dog", "cat|dog"}[i%3])
	}
	os.WriteFile(filepath.Join(dir, "broken.jpg"), []byte("not a jpeg"), 0o644)
	csv.WriteString("broken.jpg,cat\n")
	if err := os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func tinyBackbone(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := os.WriteFile(p, enginetest.TinyModel(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readAll(t *testing.T, paths ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestFeaturesShardMerge runs features over a small synthetic set unsharded and as three
// shards (one by --shard, two by $JOB_COMPLETION_INDEX), merges them and compares the
// bytes of the .npy, names and manifest files; then checks reruns and bad merges.
func TestFeaturesShardMerge(t *testing.T) {
	t.Parallel()
	dir := shardFixture(t, 14)
	bb := tinyBackbone(t)
	outDir := t.TempDir()
	base := []string{"features", "--backbone", bb, "--data", filepath.Join(dir, "labels.csv"), "--engine", "go", "--no-cache", "--workers", "1"}
	whole := filepath.Join(outDir, "whole.npy")
	if code, out := runCLI(t, append(base, "--out", whole)...); code != exitOK {
		t.Fatalf("unsharded: exit %d: %s", code, out)
	}
	f := filepath.Join(outDir, "f.npy")
	var shards []string
	for i := range 3 {
		e := &env{getenv: func(k string) string {
			return map[string]string{"JOB_COMPLETION_INDEX": fmt.Sprint(i), "MULTILABEL_NUM_SHARDS": "3"}[k]
		}}
		args := append(base, "--out", f, "--json")
		if i == 0 {
			args = append(args, "--shard", "0/3")
		}
		code, out := runCLIEnv(t, e, args...)
		if code != exitOK {
			t.Fatalf("shard %d: exit %d: %s", i, code, out)
		}
		var s featuresSummary
		if err := json.Unmarshal([]byte(out), &s); err != nil || s.Shard != fmt.Sprintf("%d/3", i) || s.Complete {
			t.Fatalf("shard %d summary %+v (%v)", i, s, err)
		}
		shards = append(shards, filepath.Join(outDir, fmt.Sprintf("f.shard-%d-of-3.npy", i)))
	}
	// A rerun of a complete shard does nothing.
	code, out := runCLI(t, append(base, "--out", f, "--shard", "1/3", "--json")...)
	var s featuresSummary
	if code != exitOK || json.Unmarshal([]byte(out), &s) != nil || !s.Complete {
		t.Fatalf("rerun of a complete shard: exit %d %s", code, out)
	}
	merged := filepath.Join(outDir, "merged.npy")
	// In any order, the merge equals the single-process output byte for byte.
	if code, out := runCLI(t, "features", "merge", merged, shards[2], shards[0], shards[1]); code != exitOK {
		t.Fatalf("merge: exit %d: %s", code, out)
	}
	suffixes := []string{"", ".names.txt", ".manifest.json"}
	for _, suf := range suffixes {
		got, want := readAll(t, merged+suf)[0], readAll(t, whole+suf)[0]
		if !bytes.Equal(got, want) {
			t.Errorf("merged%s differs from the single-process output (%d vs %d bytes)", suf, len(got), len(want))
		}
	}
	// Bad merges: a missing shard, a duplicate, an incomplete shard (no manifest).
	for name, args := range map[string][]string{
		"missing":   {shards[0], shards[2]},
		"duplicate": {shards[0], shards[1], shards[1], shards[2]},
		"not-shard": {whole, shards[0]},
	} {
		code, _, stderr := runCLIErr(t, append([]string{"features", "merge", filepath.Join(outDir, "x.npy")}, args...)...)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, exitUsage)
		}
		if name == "missing" && !strings.Contains(stderr, "1/3") {
			t.Errorf("missing: stderr does not name shard 1/3: %s", stderr)
		}
	}
	if err := os.Remove(shards[1] + ".manifest.json"); err != nil {
		t.Fatal(err)
	}
	if code, _ := runCLI(t, "features", "merge", filepath.Join(outDir, "x.npy"), shards[0], shards[1], shards[2]); code != exitUsage {
		t.Errorf("incomplete shard: exit %d, want %d", code, exitUsage)
	}
	if _, err := os.Stat(filepath.Join(outDir, "x.npy")); err == nil {
		t.Error("a refused merge left an output")
	}
}

func TestShardFlagsUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--shard", "3/2"}, {"--shard", "-1/4"}, {"--shard", "0/0"}, {"--shard", "junk"},
		{"--num-shards", "4"}, {"--shard", "1/4"}, // no --out
	} {
		full := append([]string{"features", "--backbone", "x.onnx", "--data", "d.csv"}, args...)
		if len(args) == 2 && args[0] == "--shard" && args[1] != "1/4" {
			full = append(full, "--out", "f.npy")
		}
		code, _, stderr := runCLIErr(t, full...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
		if args[0] == "--shard" && !strings.Contains(stderr, args[1]) {
			t.Errorf("%v: stderr does not name the value: %s", args, stderr)
		}
	}
}

// runCLIEnv is runCLI with a preset environment (e.getenv).
func runCLIEnv(t testing.TB, e *env, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runEnv(context.Background(), e, args, strings.NewReader(""), &out, &errb)
	if errb.Len() > 0 {
		t.Logf("multilabel %s: stderr:\n%s", strings.Join(args, " "), errb.String())
	}
	return code, out.String()
}

// TestPredictShardMerge: predict over a folder unsharded and as two shards, merged,
// gives the same CSV and manifest bytes; a missing shard is refused.
func TestPredictShardMerge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mlb := filepath.Join(dir, "colors.mlb")
	if err := modeltest.Bundle().Save(mlb); err != nil {
		t.Fatal(err)
	}
	imgs := filepath.Join(dir, "imgs")
	os.MkdirAll(imgs, 0o755)
	for i := range 9 {
		modeltest.WritePNG(filepath.Join(imgs, fmt.Sprintf("i%d.png", i)), modeltest.Solid(color.RGBA{uint8(i * 30), 0, uint8(255 - i*30), 255}, 8, 8))
	}
	os.WriteFile(filepath.Join(imgs, "broken.png"), []byte("no"), 0o644)
	base := []string{"predict", "--model", mlb, "--engine", "go", imgs}
	whole := filepath.Join(dir, "whole.csv")
	if code, out := runCLI(t, append(base, "--out", whole)...); code != exitOK {
		t.Fatalf("unsharded: exit %d %s", code, out)
	}
	var shards []string
	for i := range 2 {
		if code, out := runCLI(t, append(base, "--out", filepath.Join(dir, "p.csv"), "--shard", fmt.Sprintf("%d/2", i))...); code != exitOK {
			t.Fatalf("shard %d: exit %d %s", i, code, out)
		}
		shards = append(shards, filepath.Join(dir, fmt.Sprintf("p.shard-%d-of-2.csv", i)))
	}
	if code, out := runCLI(t, append(base, "--out", filepath.Join(dir, "p.csv"), "--shard", "1/2")...); code != exitOK || !strings.Contains(out, "already complete") {
		t.Fatalf("rerun: exit %d %s", code, out)
	}
	merged := filepath.Join(dir, "merged.csv")
	if code, out := runCLI(t, "predict", "merge", merged, shards[1], shards[0]); code != exitOK {
		t.Fatalf("merge: exit %d %s", code, out)
	}
	for _, suf := range []string{"", ".manifest.json"} {
		if got, want := readAll(t, merged+suf)[0], readAll(t, whole+suf)[0]; !bytes.Equal(got, want) {
			t.Errorf("merged%s:\n%s\nwant\n%s", suf, got, want)
		}
	}
	if code, _ := runCLI(t, "predict", "merge", filepath.Join(dir, "x.csv"), shards[0]); code != exitUsage {
		t.Errorf("missing shard: exit %d, want %d", code, exitUsage)
	}
}

// TestEvalModelShards: eval --model as three shards with --predictions-out, merged by
// predict merge and evaluated with --predictions, gives the metrics of eval --model over
// the whole set; the merged CSV equals the unsharded --predictions-out.
func TestEvalModelShards(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, _, err := modeltest.WriteDataset(dir, 20, 7)
	if err != nil {
		t.Fatal(err)
	}
	mlb := filepath.Join(dir, "m.mlb")
	if err := modeltest.Bundle().Save(mlb); err != nil {
		t.Fatal(err)
	}
	base := []string{"eval", "--model", mlb, "--engine", "go", "--data", labels}
	whole := filepath.Join(dir, "whole.csv")
	if code, out := runCLI(t, append(base, "--predictions-out", whole)...); code != exitOK {
		t.Fatalf("unsharded: exit %d %s", code, out)
	}
	var shards []string
	for i := range 3 {
		if code, out := runCLI(t, append(base, "--predictions-out", filepath.Join(dir, "p.csv"), "--shard", fmt.Sprintf("%d/3", i))...); code != exitOK {
			t.Fatalf("shard %d: exit %d %s", i, code, out)
		}
		shards = append(shards, filepath.Join(dir, fmt.Sprintf("p.shard-%d-of-3.csv", i)))
	}
	merged := filepath.Join(dir, "merged.csv")
	if code, out := runCLI(t, append([]string{"predict", "merge", merged}, shards...)...); code != exitOK {
		t.Fatalf("merge: exit %d %s", code, out)
	}
	if got, want := readAll(t, merged)[0], readAll(t, whole)[0]; !bytes.Equal(got, want) {
		t.Fatalf("merged:\n%s\nwant\n%s", got, want)
	}
	code, a := runCLI(t, append(base, "--json-out", "-")...)
	code2, b := runCLI(t, "eval", "--predictions", merged, "--data", labels, "--json-out", "-")
	if code != exitOK || code2 != exitOK {
		t.Fatalf("eval: exit %d and %d", code, code2)
	}
	var ra, rb struct {
		MAP     float64 `json:"mAP"`
		NImages int     `json:"n_images"`
	}
	if json.Unmarshal([]byte(a), &ra) != nil || json.Unmarshal([]byte(b), &rb) != nil || ra != rb || ra.NImages != 20 {
		t.Fatalf("eval --model %+v vs eval of the merged shards %+v", ra, rb)
	}
	if code, _ := runCLI(t, append(base, "--shard", "0/3")...); code != exitUsage {
		t.Errorf("--shard without --predictions-out: exit %d", code)
	}
}

// TestPackFeaturesFromTar: dataset pack, then features over the tar shards (whole and as
// two merged shards) writes exactly what features over the folder writes.
func TestPackFeaturesFromTar(t *testing.T) {
	t.Parallel()
	dir := shardFixture(t, 10)
	bb := tinyBackbone(t)
	out := t.TempDir()
	code, stdout := runCLI(t, "dataset", "pack", "--data", filepath.Join(dir, "labels.csv"), "--out", filepath.Join(out, "s-%03d.tar"), "--shard-size", "2KB", "--json")
	var res struct{ Shards []string }
	if code != exitOK || json.Unmarshal([]byte(stdout), &res) != nil || len(res.Shards) < 2 {
		t.Fatalf("pack: exit %d %s", code, stdout)
	}
	pattern := filepath.Join(out, fmt.Sprintf("s-{000..%03d}.tar", len(res.Shards)-1))
	base := []string{"features", "--backbone", bb, "--engine", "go", "--no-cache", "--workers", "1"}
	folder, tarOut := filepath.Join(out, "folder.npy"), filepath.Join(out, "tar.npy")
	if code, o := runCLI(t, append(base, "--data", filepath.Join(dir, "labels.csv"), "--out", folder)...); code != exitOK {
		t.Fatalf("folder: exit %d %s", code, o)
	}
	if code, o := runCLI(t, append(base, "--data", pattern, "--out", tarOut)...); code != exitOK {
		t.Fatalf("tar: exit %d %s", code, o)
	}
	var parts []string
	for i := range 2 {
		if code, o := runCLI(t, append(base, "--data", pattern, "--out", filepath.Join(out, "p.npy"), "--shard", fmt.Sprintf("%d/2", i))...); code != exitOK {
			t.Fatalf("tar shard %d: exit %d %s", i, code, o)
		}
		parts = append(parts, filepath.Join(out, fmt.Sprintf("p.shard-%d-of-2.npy", i)))
	}
	merged := filepath.Join(out, "merged.npy")
	if code, o := runCLI(t, append([]string{"features", "merge", merged}, parts...)...); code != exitOK {
		t.Fatalf("merge: exit %d %s", code, o)
	}
	for _, suf := range []string{"", ".names.txt", ".manifest.json"} {
		want := readAll(t, folder+suf)[0]
		for _, got := range []string{tarOut, merged} {
			if !bytes.Equal(readAll(t, got+suf)[0], want) {
				t.Errorf("%s%s differs from the folder run's output", got, suf)
			}
		}
	}
	if code, _ := runCLI(t, "dataset", "pack", "--data", filepath.Join(dir, "labels.csv"), "--out", filepath.Join(out, "x-%03d.tar"), "--shard-size", "lots"); code != exitUsage {
		t.Errorf("--shard-size lots: exit %d", code)
	}
}

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"512MB": 512e6, "1GiB": 1 << 30, "4096": 4096, "2 kb": 2000, "10B": 10} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1MB", "MB", "1.5GB", "99999999999GB", "1TB"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q): no error", in)
		}
	}
}
