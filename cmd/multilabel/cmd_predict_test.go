package main

import (
	"encoding/json"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/model/modeltest"
)

// runModelCmd runs the CLI with args and returns its exit code and its stdout.
func runModelCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return runCLI(t, args...)
}

type predictOutput struct {
	Model       string   `json:"model"`
	Labels      []string `json:"labels"`
	Predictions []struct {
		Path   string `json:"path"`
		Labels []struct {
			Label string  `json:"label"`
			Score float32 `json:"score"`
		} `json:"labels"`
		Scores scoreMap `json:"scores"`
		Error  string   `json:"error"`
	} `json:"predictions"`
	Errors int `json:"errors"`
}

// scoreMap reads the scores list of a prediction ([{"label", "score", "threshold"}],
// issue 18: one shape with the HTTP API; it was a label → score object) by label.
type scoreMap map[string]float32

func (m *scoreMap) UnmarshalJSON(b []byte) error {
	var list []struct {
		Label string  `json:"label"`
		Score float32 `json:"score"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*m = scoreMap{}
	for _, l := range list {
		(*m)[l.Label] = l.Score
	}
	return nil
}

// TestPredictFolderWithCorruptImage: a folder with a corrupt image is still predicted.
func TestPredictFolderWithCorruptImage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mlb := filepath.Join(dir, "colors.mlb")
	if err := modeltest.Bundle().Save(mlb); err != nil {
		t.Fatal(err)
	}
	imgs := filepath.Join(dir, "imgs")
	os.MkdirAll(filepath.Join(imgs, "sub"), 0o755)
	modeltest.WritePNG(filepath.Join(imgs, "a_red.png"), modeltest.Solid(color.RGBA{255, 0, 0, 255}, 20, 10))
	modeltest.WritePNG(filepath.Join(imgs, "sub", "c_blue.png"), modeltest.Solid(color.RGBA{0, 0, 255, 255}, 7, 7))
	good, _ := os.ReadFile(filepath.Join(imgs, "a_red.png"))
	os.WriteFile(filepath.Join(imgs, "b_broken.png"), good[:len(good)/2], 0o644)
	os.WriteFile(filepath.Join(imgs, "notes.txt"), []byte("not an image"), 0o644)

	code, out := runModelCmd(t, "predict", "--model", mlb, "--engine", "go", "--json", imgs)
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var po predictOutput
	if err := json.Unmarshal([]byte(out), &po); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(po.Predictions) != 3 || po.Errors != 1 {
		t.Fatalf("want 3 results with 1 error (notes.txt ignored): %s", out)
	}
	byName := map[string]int{}
	for i, p := range po.Predictions {
		byName[filepath.Base(p.Path)] = i
	}
	red := po.Predictions[byName["a_red.png"]]
	if len(red.Labels) != 1 || red.Labels[0].Label != "red" || red.Scores["red"] < 0.98 || red.Scores["green"] > 0.02 {
		t.Errorf("red image: %+v", red)
	}
	blue := po.Predictions[byName["c_blue.png"]]
	if len(blue.Labels) != 1 || blue.Labels[0].Label != "blue" {
		t.Errorf("blue image: %+v", blue)
	}
	if bad := po.Predictions[byName["b_broken.png"]]; bad.Error == "" || len(bad.Labels) != 0 {
		t.Errorf("broken image: %+v", bad)
	}

	// Text output, top-k: one line per readable image.
	code, out = runModelCmd(t, "predict", "--model", mlb, "--engine", "go", "--top-k", "2", imgs)
	if code != exitOK {
		t.Fatalf("text: exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "red (0.982), ") {
		t.Errorf("text output:\n%s", out)
	}

	// Nothing readable: exit 2.
	if code, _ := runModelCmd(t, "predict", "--model", mlb, "--engine", "go", filepath.Join(imgs, "b_broken.png")); code != exitUsage {
		t.Errorf("only a broken image: exit %d, want %d", code, exitUsage)
	}
}

func TestPredictBadUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mlb := filepath.Join(dir, "m.mlb")
	if err := modeltest.Bundle().Save(mlb); err != nil {
		t.Fatal(err)
	}
	modeltest.WritePNG(filepath.Join(dir, "x.png"), modeltest.Solid(color.White, 4, 4))
	data, _ := os.ReadFile(mlb)
	os.WriteFile(filepath.Join(dir, "cut.mlb"), data[:len(data)/2], 0o644)
	for name, args := range map[string][]string{
		"no model":      {"predict", filepath.Join(dir, "x.png")},
		"no images":     {"predict", "--model", mlb},
		"missing image": {"predict", "--model", mlb, filepath.Join(dir, "nope.png")},
		"missing model": {"predict", "--model", filepath.Join(dir, "nope.mlb"), filepath.Join(dir, "x.png")},
		"cut model":     {"predict", "--model", filepath.Join(dir, "cut.mlb"), filepath.Join(dir, "x.png")},
		"top-k":         {"predict", "--model", mlb, "--top-k", "9", filepath.Join(dir, "x.png")},
		"threshold":     {"predict", "--model", mlb, "--threshold", "2", filepath.Join(dir, "x.png")},
		"engine":        {"predict", "--model", mlb, "--engine", "tpu", filepath.Join(dir, "x.png")},
	} {
		if code, _ := runModelCmd(t, args...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, exitUsage)
		}
	}
}
