package pipeline_test

import (
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/model/modeltest"
	"github.com/multilabel/multilabel/pipeline"
)

func TestLoadSplits(t *testing.T) {
	dir := t.TempDir()
	labels, _, err := modeltest.WriteDataset(dir, 200, 9)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := dataset.Load(labels, dataset.Options{})
	half := filepath.Join(dir, "half.csv")
	if err := dataset.WriteCSV(half, all.Subset([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name            string
		cfg             pipeline.TrainConfig
		train, val, tst int
		how             string
	}{
		{"default 80/20 with a val share", pipeline.TrainConfig{}, 140, 20, 40, "stratified"},
		{"three-way", pipeline.TrainConfig{Split: []float64{0.6, 0.2, 0.2}}, 120, 40, 40, "stratified"},
		{"test given", pipeline.TrainConfig{Test: half}, 175, 25, 10, "stratified"},
		{"val given", pipeline.TrainConfig{Val: half, Split: []float64{0.75, 0.25}}, 150, 10, 50, "stratified"},
		{"both given", pipeline.TrainConfig{Val: half, Test: half}, 200, 10, 10, "given"},
	}
	for _, c := range cases {
		c.cfg.Data, c.cfg.Seed = labels, 4
		tr, va, te, info, err := pipeline.LoadSplitsForTest(c.cfg)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if pipeline.SizeForTest(tr) != c.train || pipeline.SizeForTest(va) != c.val || pipeline.SizeForTest(te) != c.tst || info.How != c.how {
			t.Errorf("%s: %d/%d/%d (%s), want %d/%d/%d (%s)", c.name, pipeline.SizeForTest(tr), pipeline.SizeForTest(va), pipeline.SizeForTest(te), info.How, c.train, c.val, c.tst, c.how)
		}
		// Deterministic.
		tr2, _, _, _, _ := pipeline.LoadSplitsForTest(c.cfg)
		for i := range tr.Samples {
			if tr.Samples[i].Image != tr2.Samples[i].Image {
				t.Errorf("%s: split not deterministic", c.name)
				break
			}
		}
	}
	for _, bad := range [][]float64{{0.8}, {0, 1}, {0.5, -1}, {1, 1, 1, 1}} {
		if _, _, _, _, err := pipeline.LoadSplitsForTest(pipeline.TrainConfig{Data: labels, Split: bad}); err == nil || !errkind.IsBadInput(err) {
			t.Errorf("split %v: %v", bad, err)
		}
	}
}
