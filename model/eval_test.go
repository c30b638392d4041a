package model_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/model/modeltest"
)

func TestEvaluateTiny(t *testing.T) {
	dir := t.TempDir()
	labels, _, err := modeltest.WriteDataset(dir, 40, 5)
	if err != nil {
		t.Fatal(err)
	}
	// One listed image is corrupt: reported, left out.
	os.WriteFile(filepath.Join(dir, "img007.png"), []byte("garbage"), 0o644)
	m, err := model.New(modeltest.Bundle(), model.Options{Engine: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	res, err := m.Evaluate(context.Background(), labels, model.EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Bad) != 1 || len(res.Scores) != 39 || res.Metrics.NImages != 39 {
		t.Fatalf("bad %v, %d scored, metrics on %d", res.Bad, len(res.Scores), res.Metrics.NImages)
	}
	// The tiny head separates "on" channels (≥ 200/255) from "off" ones (≤ 40/255).
	if res.Metrics.MAP != 1 || res.Metrics.OF1 != 1 {
		t.Errorf("mAP %v OF1 %v, want 1", res.Metrics.MAP, res.Metrics.OF1)
	}
	// A label file with a label the model does not know is refused.
	bad := filepath.Join(dir, "other.csv")
	os.WriteFile(bad, []byte("image,red,purple\nimg000.png,1,0\n"), 0o644)
	if _, err := m.Evaluate(context.Background(), bad, model.EvalOptions{}); err == nil || !errkind.IsBadInput(err) {
		t.Errorf("unknown label: %v", err)
	}
}
