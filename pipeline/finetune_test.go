package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/finetune"
	"github.com/multilabel/multilabel/internal/demo"
	"github.com/multilabel/multilabel/internal/synth"
	"github.com/multilabel/multilabel/pipeline"
	"github.com/multilabel/multilabel/train"
)

// synthSet writes the demo's embedded backbone with its preprocessing sidecar, and n
// generated images of the synthetic target task with a one-hot label file keeping the
// labels that have at least minPos positives and negatives. It returns both paths.
func synthSet(t *testing.T, dir string, n, minPos int, seed uint64) (labels, bb string) {
	t.Helper()
	const size = 24
	bb = filepath.Join(dir, "backbone.onnx")
	if err := os.WriteFile(bb, demo.EmbeddedBackbone(), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := json.Marshal(demo.SpecFor(size))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "backbone.json"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	all := synth.Target(synth.Config{Size: size}, n, seed)
	var cols []int
	for j := range synth.TargetLabels() {
		pos := 0
		for _, s := range all {
			pos += int(s.Truth[j])
		}
		if pos >= minPos && pos <= n-minPos {
			cols = append(cols, j)
		}
	}
	var b strings.Builder
	b.WriteString("image")
	for _, j := range cols {
		b.WriteString("," + synth.TargetLabels()[j])
	}
	b.WriteString("\n")
	for i, s := range all {
		name := fmt.Sprintf("s%03d.png", i)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		err = png.Encode(f, s.Image)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(name)
		for _, j := range cols {
			fmt.Fprintf(&b, ",%d", s.Truth[j])
		}
		b.WriteString("\n")
	}
	labels = filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(labels, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return labels, bb
}

// TestFineTunePreparesOnce: a fine-tune run loads the data, parses the backbone and
// opens the inference engine once for both stages, and its bundle holds the fine-tuned
// model with both stages' metrics.
func TestFineTunePreparesOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels, bb := synthSet(t, dir, 80, 8, 11)
	out := filepath.Join(dir, "ft.mlb")
	cfg := pipeline.TrainConfig{Data: labels, Backbone: bb, Out: out, Engine: "go", NoCache: true, Seed: 3,
		Train: train.DefaultConfig()}
	cfg.Train.Epochs = 20
	ft := finetune.DefaultConfig()
	ft.Epochs, ft.BatchSize = 1, 16
	res, parses, opens, err := pipeline.FineTuneCounted(context.Background(), cfg, ft)
	if err != nil {
		t.Fatal(err)
	}
	if parses != 1 || opens != 1 {
		t.Errorf("the run parsed the backbone %d times and opened %d inference engines, want 1 and 1", parses, opens)
	}
	if res.Probe == nil || res.Probe.Test == nil || res.Test == nil || res.Val == nil {
		t.Fatalf("missing metrics: probe %+v, val %v, test %v", res.Probe, res.Val, res.Test)
	}
	s := res.Probe.Splits
	if len(res.Scores) != s.Test || len(res.TestPaths) != s.Test || s.Train+s.Val+s.Test != 80 {
		t.Errorf("%d scores / %d paths for splits %+v", len(res.Scores), len(res.TestPaths), s)
	}
	var mets map[string]json.RawMessage
	if err := json.Unmarshal(res.Bundle.Metrics, &mets); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"val", "test", "probe_val", "probe_test"} {
		if _, ok := mets[k]; !ok {
			t.Errorf("bundle metrics lack %q", k)
		}
	}
	// The bundle predicts what the run measured.
	checkBundleScores(t, out, res.TestPaths, res.Scores)
}

// Fine-tuning pools by the average only: another pooling is bad input before any work.
func TestFineTuneRefusesPool(t *testing.T) {
	t.Parallel()
	cfg := pipeline.TrainConfig{Data: "unused.csv", Backbone: "unused.onnx", Pool: "max"}
	_, err := pipeline.FineTune(context.Background(), cfg, finetune.DefaultConfig())
	if !errors.Is(err, errkind.ErrBadInput) || !strings.Contains(err.Error(), "max") {
		t.Fatalf("FineTune with --pool max: %v", err)
	}
}
