package bundle_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/calib"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/model/modeltest"
)

// TestBundleDecision: decision.json survives a round trip, and DecisionThresholds
// resolves rules from it (its own rule: the bundle's thresholds).
func TestBundleDecision(t *testing.T) {
	b := modeltest.Bundle()
	b.Thresholds = []float64{0.9, 0.5, 0.5}
	b.Decision = &bundle.Decision{Rule: "precision:0.8", F1Thresholds: []float64{0.4, 0.5, 0.6}, Temperatures: []float64{1, 2, 3},
		Curves: []calib.Curve{{Scores: []float32{0.9, 0.3}, TP: []int{1, 2}, FP: []int{0, 2}}, {Scores: []float32{}, TP: []int{}, FP: []int{}}, {Scores: []float32{0.7}, TP: []int{1}, FP: []int{0}}}}
	path := filepath.Join(t.TempDir(), "m.mlb")
	mustSave(t, b, path)
	got, err := bundle.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Decision, b.Decision) || got.Rule() != "precision:0.8" {
		t.Fatalf("decision %+v, saved %+v", got.Decision, b.Decision)
	}
	for rule, want := range map[string][]float64{
		"":           {0.9, 0.5, 0.5},
		"f1":         {0.4, 0.5, 0.6},
		"topk:2":     {0.4, 0.5, 0.6},
		"recall:0.5": {float64(float32(0.9)), 0.5, float64(float32(0.7))},
	} {
		_, th, _, err := got.DecisionThresholds(rule)
		if err != nil || !reflect.DeepEqual(th, want) {
			t.Errorf("%q: %v (%v), want %v", rule, th, err, want)
		}
	}
	// Platt fields round-trip; a slope that is not positive is refused.
	pb := modeltest.Bundle()
	pb.Decision = &bundle.Decision{Rule: "f1", F1Thresholds: []float64{0.4, 0.5, 0.6}, Calibration: calib.PlattMethod,
		PlattA: []float64{1.2, 0.8, 1}, PlattB: []float64{-0.3, 0.1, 0}}
	mustSave(t, pb, path)
	if back, err := bundle.Read(path); err != nil || !reflect.DeepEqual(back.Decision, pb.Decision) {
		t.Errorf("platt decision %+v (%v), saved %+v", back.Decision, err, pb.Decision)
	}
	pb.Decision.PlattA[1] = 0
	if err := pb.Validate(); err == nil || !strings.Contains(err.Error(), "platt_a 1") {
		t.Errorf("platt_a 0: %v", err)
	}
	if _, _, _, err := got.DecisionThresholds("recall:2"); !errkind.IsBadInput(err) {
		t.Errorf("recall:2: %v", err)
	}
	if _, _, _, err := modeltest.Bundle().DecisionThresholds("precision:0.9"); !errkind.IsBadInput(err) || !strings.Contains(err.Error(), "no validation curves") {
		t.Errorf("no curves: %v", err)
	}
}

func TestBundleRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.mlb")
	b := modeltest.Bundle()
	mustSave(t, b, path)
	if b.ID == "" || b.Manifest == nil || len(b.Manifest.Members) != 8 {
		t.Fatalf("Save did not fill manifest/id: %q %+v", b.ID, b.Manifest)
	}
	got, err := bundle.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != b.ID {
		t.Errorf("id %s, saved %s", got.ID, b.ID)
	}
	if !bytes.Equal(got.Backbone, b.Backbone) || !reflect.DeepEqual(got.Head, b.Head) ||
		!reflect.DeepEqual(got.Labels, b.Labels) || !reflect.DeepEqual(got.Thresholds, b.Thresholds) ||
		got.Spec != b.Spec || got.BackboneInfo != b.BackboneInfo {
		t.Errorf("round trip changed the bundle:\n got %+v\nwant %+v", got, b)
	}
	if !strings.Contains(string(got.Training), `"bce"`) || !strings.Contains(string(got.Metrics), `"mAP"`) {
		t.Errorf("training/metrics lost: %s %s", got.Training, got.Metrics)
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after Save, want 1", len(ents))
	}
}

// TestBundleRoundTripPredictions: save → load → identical predictions.
func TestBundleRoundTripPredictions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.mlb")
	b := modeltest.Bundle()
	imgs := []image.Image{modeltest.Solid(color.RGBA{255, 0, 0, 255}, 20, 10), modeltest.Solid(color.RGBA{0, 200, 255, 255}, 5, 9)}
	m1, err := model.New(b, model.Options{Engine: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close()
	p1, err := m1.Predict(context.Background(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, b, path)
	m2, err := model.LoadWith(path, model.Options{Engine: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	p2, err := m2.Predict(context.Background(), imgs)
	if err != nil {
		t.Fatal(err)
	}
	// A Prediction keeps a pointer to its model (for its JSON form, which carries the
	// thresholds): compare what a user sees, the JSON of each prediction.
	j1, err1 := json.Marshal(p1)
	j2, err2 := json.Marshal(p2)
	if err1 != nil || err2 != nil || string(j1) != string(j2) {
		t.Errorf("predictions differ after save/load (%v, %v):\n%s\n%s", err1, err2, j1, j2)
	}
	if len(p1[0].Labels) != 1 || p1[0].Labels[0].Label != "red" {
		t.Errorf("red image predicted %+v", p1[0].Labels)
	}
	if len(p1[1].Labels) != 2 || p1[1].Labels[0].Label != "blue" || p1[1].Labels[1].Label != "green" {
		t.Errorf("cyan image predicted %+v", p1[1].Labels)
	}
}

func TestBundleTampered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.mlb")
	mustSave(t, modeltest.Bundle(), path)
	data, _ := os.ReadFile(path)
	// Flip one byte inside the head member's data.
	i := bytes.Index(data, []byte(`"w1"`))
	if i < 0 {
		t.Fatal("head not found in the archive")
	}
	bad := bytes.Clone(data)
	bad[i+1] = 'W'
	_, err := bundle.Decode(bad, "tampered.mlb")
	if err == nil || !errors.Is(err, bundle.ErrCorrupt) || !strings.Contains(err.Error(), "head.json") || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("tampered head: got %v", err)
	}
	// Tamper with the backbone bytes.
	j := bytes.Index(data, []byte("GlobalAveragePool"))
	bad = bytes.Clone(data)
	bad[j] = 'g'
	if _, err := bundle.Decode(bad, "x"); err == nil || !strings.Contains(err.Error(), "backbone.onnx") {
		t.Fatalf("tampered backbone: got %v", err)
	}
}

func TestBundleTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.mlb")
	mustSave(t, modeltest.Bundle(), path)
	data, _ := os.ReadFile(path)
	cuts := []int{0, 100, 600, 1500, len(data) / 2, len(data) - 1500, len(data) - 512, len(data) - 1}
	for n := 1; n < len(data); n += 97 {
		cuts = append(cuts, n)
	}
	for _, n := range cuts {
		_, err := bundle.Decode(data[:n], "cut.mlb")
		if err == nil {
			t.Errorf("bundle cut at %d of %d bytes accepted", n, len(data))
			continue
		}
		if !errors.Is(err, bundle.ErrCorrupt) || !strings.Contains(err.Error(), "cut.mlb") {
			t.Errorf("cut at %d: error %v does not name the file or wrap bundle.ErrCorrupt", n, err)
		}
	}
	// The error names the member being read when the cut falls inside it.
	i := bytes.Index(data, []byte("GlobalAveragePool"))
	_, err := bundle.Decode(data[:i], "cut.mlb")
	if err == nil || !strings.Contains(err.Error(), "backbone.onnx") {
		t.Errorf("cut inside backbone.onnx: %v", err)
	}
}

// TestBundleExtraMember: a member not in the manifest is refused.
func TestBundleExtraMember(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.mlb")
	mustSave(t, modeltest.Bundle(), path)
	data, _ := os.ReadFile(path)
	var buf bytes.Buffer
	tr := tar.NewReader(bytes.NewReader(data))
	tw := tar.NewWriter(&buf)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		body := new(bytes.Buffer)
		body.ReadFrom(tr)
		tw.WriteHeader(h)
		tw.Write(body.Bytes())
	}
	tw.WriteHeader(&tar.Header{Name: "evil.sh", Size: 2, Mode: 0o755})
	tw.Write([]byte("hi"))
	tw.Close()
	if _, err := bundle.Decode(buf.Bytes(), "x"); err == nil || !strings.Contains(err.Error(), "evil.sh") {
		t.Fatalf("extra member: %v", err)
	}
}

func TestBundleValidate(t *testing.T) {
	for name, mut := range map[string]func(b *bundle.Bundle){
		"no labels":      func(b *bundle.Bundle) { b.Labels = nil },
		"dup label":      func(b *bundle.Bundle) { b.Labels[1] = "red" },
		"thresholds len": func(b *bundle.Bundle) { b.Thresholds = b.Thresholds[:2] },
		"threshold >1":   func(b *bundle.Bundle) { b.Thresholds[0] = 1.5 },
		"head out":       func(b *bundle.Bundle) { b.Labels = append(b.Labels, "x"); b.Thresholds = append(b.Thresholds, 0.5) },
		"head w1":        func(b *bundle.Bundle) { b.Head.W1 = b.Head.W1[:4] },
		"spec":           func(b *bundle.Bundle) { b.Spec.Layout = "CHW" },
		"feature dim":    func(b *bundle.Bundle) { b.BackboneInfo.FeatureDim = 4 },
		"no backbone":    func(b *bundle.Bundle) { b.Backbone = nil },
		"bad json":       func(b *bundle.Bundle) { b.Metrics = []byte("{") },
		"decision rule":  func(b *bundle.Bundle) { b.Decision = &bundle.Decision{Rule: "precision:1.5"} },
		"decision f1 len": func(b *bundle.Bundle) {
			b.Decision = &bundle.Decision{Rule: "f1", F1Thresholds: []float64{0.5}}
		},
		"decision curve": func(b *bundle.Bundle) {
			b.Decision = &bundle.Decision{Rule: "f1", Curves: []calib.Curve{{}, {}, {Scores: []float32{0.2, 0.3}, TP: []int{1, 1}, FP: []int{0, 1}}}}
		},
	} {
		b := modeltest.Bundle()
		mut(b)
		if err := b.Save(filepath.Join(t.TempDir(), "m.mlb")); err == nil {
			t.Errorf("%s: Save accepted an invalid bundle", name)
		}
	}
}

// FuzzDecode: arbitrary bytes never panic and are refused unless they are a valid bundle.
func FuzzDecode(f *testing.F) {
	path := filepath.Join(f.TempDir(), "m.mlb")
	mustSave(f, modeltest.Bundle(), path)
	data, _ := os.ReadFile(path)
	f.Add(data)
	f.Add(data[:700])
	f.Add([]byte{})
	f.Add([]byte("manifest.json"))
	f.Fuzz(func(t *testing.T, b []byte) {
		bd, err := bundle.Decode(b, "fuzz")
		if err == nil {
			if err := bd.Validate(); err != nil {
				t.Fatalf("Decode accepted an invalid bundle: %v", err)
			}
		}
	})
}

// BenchmarkRead measures reading and verifying a bundle with a 3 MB backbone member
// (the size of the SqueezeNet 1.1 feature model).
func BenchmarkRead(b *testing.B) {
	path := filepath.Join(b.TempDir(), "m.mlb")
	bd := modeltest.Bundle()
	bd.Backbone = append(bd.Backbone, make([]byte, 3<<20)...) // trailing bytes: still a valid member
	mustSave(b, bd, path)
	b.SetBytes(3 << 20)
	b.ResetTimer()
	for range b.N {
		if _, err := bundle.Read(path); err != nil {
			b.Fatal(err)
		}
	}
}

func mustSave(t testing.TB, b *bundle.Bundle, path string) {
	t.Helper()
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
}
