package pipeline_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/engine/auto"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/finetune"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/pipeline"
	"github.com/multilabel/multilabel/shard"
	"github.com/multilabel/multilabel/train"
)

// writeFeatures extracts the features of every sample of labels with the backbone at bb
// (pure-Go engine) and writes them as a features output at out, as `multilabel
// features` does; drop leaves those dataset indices out (as unusable images are) and
// edit may change the output before it is written.
func writeFeatures(t *testing.T, labels, bb, out string, drop map[int]bool, edit func(*featcache.Output)) {
	t.Helper()
	d, err := dataset.Load(labels, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := backbone.Load(bb, backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	graph, err := b.FeatureModel()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := auto.Open(graph, auto.Options{Kind: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	f, err := featcache.Extract(context.Background(), eng, b, d.Paths(), featcache.ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o := featcache.Output{Path: out, Key: featcache.KeyOf(b), Total: len(d.Samples), Selected: len(d.Samples), Dim: f.Dim}
	for i, s := range d.Samples {
		if drop[i] {
			continue
		}
		o.Index = append(o.Index, i)
		o.Names = append(o.Names, s.Image)
		o.Data = append(o.Data, f.Row(i)...)
	}
	if edit != nil {
		edit(&o)
	}
	if _, err := featcache.WriteOutput(o); err != nil {
		t.Fatal(err)
	}
}

// TestTrainFromFeatures: training from a features output (rows streamed from the mapped
// .npy, joined by image name) gives the run that extracts the features itself: with
// fewer rows than one block, in dataset order, train.FitRows visits the rows in Fit's
// order, so the heads and the test scores are equal. The images are not read: they are
// deleted before the run.
func TestTrainFromFeatures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 120, 3)
	if err != nil {
		t.Fatal(err)
	}
	trainFromFeatures(t, dir, labels, bb)
}

// TestTrainFromFeaturesUnsortedNames is TestTrainFromFeatures over a label file listing
// its images in reverse order, so that the features' names file is not sorted (the
// join then searches a sorted permutation of it).
func TestTrainFromFeaturesUnsortedNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 120, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(labels)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	slices.Reverse(lines[1:])
	if err := os.WriteFile(labels, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	trainFromFeatures(t, dir, labels, bb)
	names, err := os.ReadFile(featcache.NamesPath(filepath.Join(dir, "f.npy")))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Split(string(names), "\n"); slices.IsSorted(n[:len(n)-1]) {
		t.Fatal("the names file is sorted: the test does not cover the unsorted join")
	}
}

func trainFromFeatures(t *testing.T, dir, labels, bb string) {
	t.Helper()
	tc := train.DefaultConfig()
	tc.Epochs, tc.Patience = 6, 0
	base := pipeline.TrainConfig{Data: labels, Backbone: bb, Engine: "go", NoCache: true, Seed: 5, Train: tc}
	want, err := pipeline.Train(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	feats := filepath.Join(dir, "f.npy")
	writeFeatures(t, labels, bb, feats, nil, nil)
	imgs, _ := filepath.Glob(filepath.Join(dir, "img*.png"))
	for _, p := range imgs {
		os.Remove(p)
	}
	cfg := base
	cfg.Features = feats
	cfg.Out = filepath.Join(dir, "f.mlb")
	got, err := pipeline.Train(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Splits.Train != want.Splits.Train || got.Splits.Val != want.Splits.Val || got.Splits.Test != want.Splits.Test || len(got.BadImages) != 0 {
		t.Fatalf("splits %+v (bad %d), want %+v", got.Splits, len(got.BadImages), want.Splits)
	}
	if !strings.Contains(got.Engine, "f.npy") {
		t.Errorf("engine %q does not name the features file", got.Engine)
	}
	for i, w := range want.Fit.Head.W1 {
		if math.Abs(float64(got.Fit.Head.W1[i]-w)) > 1e-6 {
			t.Fatalf("head weight %d: %v from features, %v extracted", i, got.Fit.Head.W1[i], w)
		}
	}
	if math.Abs(got.Test.MAP-want.Test.MAP) > 1e-9 {
		t.Fatalf("test mAP %v from features, %v extracted", got.Test.MAP, want.Test.MAP)
	}
	if _, err := os.Stat(cfg.Out); err != nil {
		t.Fatal(err)
	}
	t.Logf("test mAP %.4f both ways (%d train rows streamed)", got.Test.MAP, got.Splits.Train)
}

// TestTrainFromFeaturesRefuses: features of another backbone, cut, pooling or
// preprocessing, a shard, a labelled image without a row, and fine-tuning are bad input
// naming what is wrong; an image the extraction left out is skipped and counted (an
// error with Strict).
func TestTrainFromFeaturesRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb, err := modeltest.WriteDataset(dir, 60, 4)
	if err != nil {
		t.Fatal(err)
	}
	tc := train.DefaultConfig()
	tc.Epochs, tc.Patience = 2, 0
	base := pipeline.TrainConfig{Data: labels, Backbone: bb, Engine: "go", NoCache: true, Seed: 5, Train: tc}
	try := func(name string, cfg pipeline.TrainConfig, wants ...string) {
		t.Helper()
		_, err := pipeline.Train(context.Background(), cfg)
		if err == nil || !errkind.IsBadInput(err) {
			t.Errorf("%s: %v, want bad input", name, err)
			return
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", name, err, w)
			}
		}
	}
	variant := func(name string, drop map[int]bool, edit func(*featcache.Output)) pipeline.TrainConfig {
		p := filepath.Join(dir, name+".npy")
		writeFeatures(t, labels, bb, p, drop, edit)
		c := base
		c.Features = p
		return c
	}
	try("other backbone", variant("sha", nil, func(o *featcache.Output) { o.Key.BackboneSHA256 = strings.Repeat("ab", 32) }),
		"sha.npy", bb, "backbone sha256 abababababab")
	try("other cut", variant("cut", nil, func(o *featcache.Output) { o.Key.FeatureNode = "conv3" }), "cut (feature node)", `"conv3"`)
	try("other pooling", variant("pool", nil, func(o *featcache.Output) { o.Key.Pool = backbone.PoolMax }), "pooling max vs avg")
	try("other preprocessing", variant("spec", nil, func(o *featcache.Output) { o.Key.Spec.Width = 16 }), "preprocessing")
	try("a shard", variant("shard", nil, func(o *featcache.Output) { o.Shard = shard.Spec{I: 1, N: 2} }), "shard 1/2", "features merge")
	try("no manifest", pipeline.TrainConfig{Data: labels, Backbone: bb, Engine: "go", Features: filepath.Join(dir, "none.npy"), Train: tc},
		"none.npy", "no manifest")

	// A labelled image with no row, the extraction having left nothing out: another
	// dataset's features.
	d, _ := dataset.Load(labels, dataset.Options{})
	missing := variant("missing", nil, func(o *featcache.Output) {
		o.Index, o.Names, o.Data = o.Index[1:], o.Names[1:], o.Data[o.Dim:]
		o.Total, o.Selected = o.Total-1, o.Selected-1
	})
	try("missing name", missing, "missing.npy", "no row for 1 labelled image", d.Samples[0].Image)

	// An image the extraction left out (rows < total) is skipped and counted ...
	left := variant("left", map[int]bool{7: true}, nil)
	res, err := pipeline.Train(context.Background(), left)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.BadImages) != 1 || !strings.HasSuffix(res.BadImages[0].Path, d.Samples[7].Image) ||
		res.Splits.Train+res.Splits.Val+res.Splits.Test != 59 {
		t.Errorf("left out: bad %+v, splits %+v", res.BadImages, res.Splits)
	}
	// ... and an error with Strict.
	left.Strict = true
	try("strict", left, "--strict", d.Samples[7].Image)

	try("random backbone", func() pipeline.TrainConfig { c := left; c.RandomBackbone = true; return c }(), "random")
	if _, err := pipeline.FineTune(context.Background(), left, finetune.DefaultConfig()); err == nil || !errkind.IsBadInput(err) {
		t.Errorf("fine-tuning from features: %v, want bad input", err)
	}
}
