package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// runDataset runs the CLI with args and returns its exit code and what it printed on
// the dataset commands' stdout.
func runDataset(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return runCLI(t, args...)
}

func datasetFixture(t *testing.T) (dir string) {
	dir = t.TempDir()
	var jb bytes.Buffer
	jpeg.Encode(&jb, image.NewGray(image.Rect(0, 0, 32, 24)), nil)
	mk := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("a.jpg", jb.Bytes())
	mk("notes.jpg", []byte("just text"))
	mk("labels.csv", []byte("image,labels\r\na.jpg,\"cat,big dog\"\r\nnotes.jpg,cat\r\ngone.jpg,bird\r\n"))
	mk("bad.csv", []byte("image,cat,dog\na.jpg,1,0\nnotes.jpg,1\n"))
	return dir
}

func TestDatasetInspectCLI(t *testing.T) {
	t.Parallel()
	dir := datasetFixture(t)
	code, out := runDataset(t, "dataset", "inspect", "--data", filepath.Join(dir, "labels.csv"), "--json", "--workers", "2")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var r struct {
		NImages     int                `json:"n_images"`
		NLabels     int                `json:"n_labels"`
		LabelCounts map[string]int     `json:"label_counts"`
		BadImages   []dataset.BadImage `json:"bad_images"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.NImages != 1 || r.NLabels != 3 || r.LabelCounts["big dog"] != 1 || r.LabelCounts["bird"] != 0 || len(r.BadImages) != 2 {
		t.Fatalf("report %+v", r)
	}
	if code, _ := runDataset(t, "dataset", "inspect", "--data", filepath.Join(dir, "labels.csv"), "--strict"); code != exitUsage {
		t.Errorf("--strict with bad images: exit %d, want %d", code, exitUsage)
	}
	if code, out := runDataset(t, "dataset", "inspect", "--data", filepath.Join(dir, "labels.csv")); code != exitOK || !bytes.Contains([]byte(out), []byte("notes.jpg: not-an-image")) {
		t.Errorf("text report: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"--data", filepath.Join(dir, "bad.csv")},                            // malformed line
		{"--data", filepath.Join(dir, "labels.csv"), "--labels", "cat,bird"}, // unknown label
		{"--data", filepath.Join(dir, "nope.csv")},                           // missing label file
		{"--data", filepath.Join(dir, "labels.csv"), "--list-sep", "tab"},    // bad option
		{}, // no --data
	} {
		if code, _ := runDataset(t, append([]string{"dataset", "inspect"}, args...)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestDatasetSplitCLI(t *testing.T) {
	t.Parallel()
	dir := sharedtest.Dir(t, "data/miml-scenes")
	out := t.TempDir()
	args := []string{"dataset", "split", "--data", filepath.Join(dir, "labels_list.csv"), "--out", out, "--seed", "7", "--json"}
	code, js := runDataset(t, args...)
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var res struct {
		Parts []struct {
			Name    string `json:"name"`
			NImages int    `json:"n_images"`
		} `json:"parts"`
	}
	if err := json.Unmarshal([]byte(js), &res); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range res.Parts {
		total += p.NImages
	}
	if len(res.Parts) != 3 || res.Parts[0].Name != "train" || total != 1500 {
		t.Fatalf("parts %+v", res.Parts)
	}
	first, _ := os.ReadFile(filepath.Join(out, "test.csv"))
	if code, _ := runDataset(t, args...); code != exitOK {
		t.Fatal("second run failed")
	}
	again, _ := os.ReadFile(filepath.Join(out, "test.csv"))
	if !bytes.Equal(first, again) {
		t.Fatal("same seed wrote a different split")
	}
	// The parts read back as they are: their image references are relative to the
	// CSV's directory (issue 18: before, they needed the original --images).
	d, err := dataset.Load(filepath.Join(out, "val.csv"), dataset.Options{})
	if err != nil || len(d.Samples) != res.Parts[1].NImages || len(d.Labels) != 5 {
		t.Fatalf("reading val.csv: %v", err)
	}
	if _, err := os.Stat(d.Samples[0].Path); err != nil {
		t.Fatal(err)
	}
	if code, _ := runDataset(t, "dataset", "split", "--data", filepath.Join(dir, "labels_list.csv"), "--out", out, "--ratios", "0.5,0.5", "--names", "a,b,c"); code != exitUsage {
		t.Errorf("names/ratios mismatch: exit %d", code)
	}
}

func TestDatasetInspectCOCOCLI(t *testing.T) {
	t.Parallel()
	dir := sharedtest.Dir(t, "data/coco-mini")
	code, out := runDataset(t, "dataset", "inspect", "--data", filepath.Join(dir, "annotations", "instances_val2017.json"), "--json", "--no-images")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var r struct {
		NImages     int      `json:"n_images"`
		NLabels     int      `json:"n_labels"`
		Unannotated []string `json:"unannotated"`
	}
	json.Unmarshal([]byte(out), &r)
	if r.NImages != 79 || r.NLabels != 80 || len(r.Unannotated) != 80 {
		t.Fatalf("coco val: %d images, %d labels, %d unannotated", r.NImages, r.NLabels, len(r.Unannotated))
	}
}
