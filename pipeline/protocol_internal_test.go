package pipeline

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/train"
)

func TestFindOverlap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b, c := write("a.jpg", "aaaa"), write("b.jpg", "bbbb"), write("c.jpg", "aaaa") // c: a's bytes
	d := write("d.jpg", "dddddd")
	ds := func(paths ...string) *dataset.Dataset {
		out := &dataset.Dataset{Labels: []string{"x"}}
		for _, p := range paths {
			out.Samples = append(out.Samples, dataset.Sample{Image: filepath.Base(p), Path: p, Truth: []int8{1}})
		}
		return out
	}
	cases := []struct {
		name  string
		parts [3]*dataset.Dataset
		want  []string // How of each overlap
	}{
		{"disjoint", [3]*dataset.Dataset{ds(a, b), nil, ds(d)}, nil},
		{"same file", [3]*dataset.Dataset{ds(a, b), nil, ds(filepath.Join(dir, ".", "b.jpg"))}, []string{"same file"}},
		{"same content", [3]*dataset.Dataset{ds(a), ds(b), ds(c)}, []string{"same content"}},
		{"twice in one part is no overlap", [3]*dataset.Dataset{ds(a, a, c), ds(b), nil}, nil},
		{"twice in a later part counts once", [3]*dataset.Dataset{ds(a), ds(filepath.Join(dir, ".", "a.jpg"), a), ds(b, a)}, []string{"same file", "same file"}},
		{"missing files are left to the image checks", [3]*dataset.Dataset{ds(filepath.Join(dir, "gone1.jpg")), nil, ds(filepath.Join(dir, "gone2.jpg"))}, nil},
	}
	for _, tc := range cases {
		got := findOverlap(tc.parts)
		// Every path hashing alike: each lookup goes through the exact map.
		collide := findOverlapHash(tc.parts, func(string) uint64 { return 7 })
		for h, got := range map[string][]Overlap{"fnv": got, "colliding hash": collide} {
			var how []string
			for _, o := range got {
				how = append(how, o.How)
			}
			if strings.Join(how, ",") != strings.Join(tc.want, ",") {
				t.Errorf("%s (%s): overlaps %+v, want %v", tc.name, h, got, tc.want)
			}
		}
		if !reflect.DeepEqual(got, collide) {
			t.Errorf("%s: %+v with FNV, %+v with a colliding hash", tc.name, got, collide)
		}
	}
}

// TestTrainOverlap: --test equal to --data is bad input unless AllowOverlap, which
// trains and counts the overlap in the split.
func TestTrainOverlap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 40, 3)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cfg := TrainConfig{Data: labels, Test: labels, Backbone: bb, Engine: "go", NoCache: true, Seed: 1,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Train: train.DefaultConfig()}
	cfg.Train.Epochs = 2
	_, err = Train(context.Background(), cfg)
	if !errkind.IsBadInput(err) || !strings.Contains(err.Error(), "--allow-overlap") || !strings.Contains(err.Error(), "40 image(s)") {
		t.Fatalf("overlap: %v", err)
	}
	cfg.AllowOverlap = true
	res, err := Train(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Splits.Overlap != 40 || !strings.Contains(logs.String(), "allowed") {
		t.Errorf("splits %+v, logs %s", res.Splits, logs.String())
	}
	// 5 validation images: too few to tune or pick epochs, and every label falls
	// back to the global threshold; both are said.
	if res.Tuning.Method != "tuned" || res.Tuning.ValImages != res.Splits.Val || len(res.Tuning.Fallback) != 3 ||
		!strings.Contains(res.Tuning.Summary(), "red, green, blue") {
		t.Errorf("tuning %+v", res.Tuning)
	}
	if !strings.Contains(logs.String(), "validation set is small") || !strings.Contains(logs.String(), "fewer than 10 validation positives") {
		t.Errorf("no small-validation warnings: %s", logs.String())
	}
}
