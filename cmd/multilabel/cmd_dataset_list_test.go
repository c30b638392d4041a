package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// dataset inspect counts the unknown entries of a list CSV ("?label" and, with
// --missing unknown, every unlisted label).
func TestDatasetInspectListMarks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i, n := range []string{"a.jpg", "b.jpg", "c.jpg"} {
		var jb bytes.Buffer
		jpeg.Encode(&jb, image.NewGray(image.Rect(0, 0, 16+i, 16)), nil) // distinct files (duplicates are reported)
		os.WriteFile(filepath.Join(dir, n), jb.Bytes(), 0o644)
	}
	labels := filepath.Join(dir, "l.csv")
	os.WriteFile(labels, []byte("image,labels\na.jpg,\"sea,-trees,?sunset\"\nb.jpg,trees\nc.jpg,?sea\n"), 0o644)
	for _, tc := range []struct {
		missing string
		want    map[string]int
	}{
		{"negative", map[string]int{"sea": 1, "sunset": 1}},
		{"unknown", map[string]int{"sea": 2, "sunset": 3, "trees": 1}},
	} {
		code, out := runDataset(t, "dataset", "inspect", "--data", labels, "--json", "--missing", tc.missing)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, out)
		}
		var r struct {
			LabelCounts   map[string]int `json:"label_counts"`
			UnknownCounts map[string]int `json:"unknown_counts"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if r.LabelCounts["sea"] != 1 || r.LabelCounts["trees"] != 1 || r.LabelCounts["sunset"] != 0 {
			t.Errorf("--missing %s: label counts %v", tc.missing, r.LabelCounts)
		}
		for l, n := range tc.want {
			if r.UnknownCounts[l] != n {
				t.Errorf("--missing %s: unknown counts %v, want %v", tc.missing, r.UnknownCounts, tc.want)
				break
			}
		}
	}
	if code, _ := runDataset(t, "dataset", "inspect", "--data", labels, "--missing", "maybe"); code != exitUsage {
		t.Errorf("--missing maybe: exit %d, want %d", code, exitUsage)
	}
}
