package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/metric"
)

const evalTruth = `image,cat,dog,traffic light
a.jpg,1,0,0
sub/b.jpg,0,1,-1
c.jpg,1,1,0
d.jpg,0,0,1
`

const evalPreds = `image,dog,cat,traffic light
c.jpg,0.9,0.8,0.1
a.jpg,0.2,0.7,0.3
sub/b.jpg,0.6,0.1,0.5
d.jpg,0.3,0.2,0.9
`

// evalCmd runs "eval" with args in a directory holding truth.csv and preds.csv and
// returns the command's error (what it printed on stderr, nil on success), its exit
// code and its stdout.
func evalCmd(t *testing.T, dir, preds string, args ...string) (error, int, string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "truth.csv"), []byte(evalTruth), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "preds.csv"), []byte(preds), 0o644); err != nil {
		t.Fatal(err)
	}
	full := append([]string{"--predictions", filepath.Join(dir, "preds.csv"), "--data", filepath.Join(dir, "truth.csv")}, args...)
	code, out, stderr := runCLIErr(t, append([]string{"eval"}, full...)...)
	var err error
	if code != exitOK {
		err = errors.New(stderr)
	}
	return err, code, out
}

func TestEvalPredictions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	js := filepath.Join(dir, "m.json")
	rep := filepath.Join(dir, "rep")
	err, code, out := evalCmd(t, dir, evalPreds, "--json", js, "--report", rep, "--top-k", "2")
	if err != nil || code != exitOK {
		t.Fatalf("exit %d: %v", code, err)
	}
	for _, want := range []string{"traffic light", "mAP", "CF1", "top-2"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	raw, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	// The same figures as the library on the hand-aligned matrix.
	scores := [][]float32{{0.7, 0.2, 0.3}, {0.1, 0.6, 0.5}, {0.8, 0.9, 0.1}, {0.2, 0.3, 0.9}}
	truth := [][]int8{{1, 0, 0}, {0, 1, -1}, {1, 1, 0}, {0, 0, 1}}
	want, err := metric.Evaluate(scores, truth, []string{"cat", "dog", "traffic light"}, metric.Options{TopK: 2})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]float64{"mAP": want.MAP, "CF1": want.CF1, "OF1_top2": want.OF1TopK, "lrap": want.LRAP, "n_images": 4} {
		if g, ok := got[k].(float64); !ok || math.Abs(g-v) > 1e-12 {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if _, err := os.Stat(filepath.Join(rep, "index.html")); err != nil {
		t.Error(err)
	}

	// With --images, the report shows the hardest images, embedded.
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")
	os.WriteFile(filepath.Join(dir, "a.jpg"), png, 0o644)
	if err, code, _ := evalCmd(t, dir, evalPreds, "--report", rep, "--images", dir, "--threshold", "0.25"); code != exitOK {
		t.Fatalf("--images: exit %d %v", code, err)
	}
	page, _ := os.ReadFile(filepath.Join(rep, "index.html"))
	if !strings.Contains(string(page), "Hardest images") || !strings.Contains(string(page), "data:image/png;base64,") {
		t.Error("report lacks the embedded gallery")
	}

	// --json - prints JSON instead of the table.
	_, code, out = evalCmd(t, dir, evalPreds, "--json", "-")
	if code != exitOK || !json.Valid([]byte(out)) {
		t.Errorf("--json -: exit %d, output %q", code, out)
	}
}

func TestEvalBadPredictions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, preds, want string }{
		{"missing row", strings.Replace(evalPreds, "d.jpg,0.3,0.2,0.9\n", "", 1), `no prediction for 1 image(s) of the truth: "d.jpg"`},
		{"extra row", evalPreds + "e.jpg,0.1,0.1,0.1\n", "not in the truth: e.jpg (line 6)"},
		{"NaN", strings.Replace(evalPreds, "0.6,0.1,0.5", "0.6,NaN,0.5", 1), `preds.csv:4: image "sub/b.jpg", label "cat": score NaN is not a probability in [0,1]`},
		{"1.7", strings.Replace(evalPreds, "0.3,0.2,0.9", "0.3,0.2,1.7", 1), `preds.csv:5: image "d.jpg", label "traffic light": score 1.7 is not a probability in [0,1]`},
		{"wrong header", strings.Replace(evalPreds, "image,", "file,", 1), "wrong header"},
		{"unknown label", strings.Replace(evalPreds, "traffic light", "bird", 1), `unknown label column(s) "bird"`},
		{"short row", strings.Replace(evalPreds, "0.3,0.2,0.9", "0.3,0.2", 1), "preds.csv:5: 3 columns, want 4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err, code, _ := evalCmd(t, t.TempDir(), c.preds)
			if code != exitUsage || err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("exit %d, error %v; want exit 2 and %q", code, err, c.want)
			}
		})
	}
}

func TestEvalUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	th := filepath.Join(dir, "th.txt")
	os.WriteFile(th, []byte("label,threshold\ncat,0.75\ndog,0.5\ntraffic light,0.2\n"), 0o644)
	for _, args := range [][]string{
		{"--threshold", "0.3", "--thresholds", th},
		{"--threshold", "1.5"},
		{"--top-k", "-1"},
		{"--model", "m.mlb"},
		{"--thresholds", filepath.Join(dir, "none.txt")},
	} {
		if _, code, _ := evalCmd(t, dir, evalPreds, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	if code, _ := runCLI(t, "eval", "--predictions", "p.csv"); code != exitUsage {
		t.Errorf("no --data: exit %d", code)
	}
	// Per-class thresholds from a file, then from the JSON eval writes.
	js := filepath.Join(dir, "m.json")
	if err, code, out := evalCmd(t, dir, evalPreds, "--thresholds", th, "--json", js); code != exitOK || !strings.Contains(out, "per class") {
		t.Fatalf("--thresholds: exit %d %v\n%s", code, err, out)
	}
	if err, code, _ := evalCmd(t, dir, evalPreds, "--thresholds", js); code != exitOK {
		t.Errorf("--thresholds from eval JSON: exit %d %v", code, err)
	}
	os.WriteFile(th, []byte("cat,0.75\ndog,0.5\n"), 0o644)
	if err, code, _ := evalCmd(t, dir, evalPreds, "--thresholds", th); code != exitUsage || !strings.Contains(err.Error(), `no threshold for label "traffic light"`) {
		t.Errorf("incomplete thresholds: exit %d %v", code, err)
	}
}

// A list-layout truth names only the labels present; prediction columns for labels it
// never mentions are all-negative classes, not errors.
func TestEvalListTruth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	truth := filepath.Join(dir, "list.csv")
	os.WriteFile(truth, []byte("image,labels\na.jpg,cat\nb.jpg,dog|cat\nc.jpg,\n"), 0o644)
	preds := filepath.Join(dir, "p.csv")
	os.WriteFile(preds, []byte("image,cat,dog,bird\na.jpg,0.9,0.1,0.2\nb.jpg,0.8,0.7,0.1\nc.jpg,0.1,0.2,0.3\n"), 0o644)
	code, out := runCLI(t, "eval", "--predictions", preds, "--data", truth, "--json", "-")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	pc := got["per_class_ap"].(map[string]any)
	if pc["bird"] != nil || pc["cat"] != 1.0 || got["n_labels"] != 3.0 {
		t.Errorf("per-class AP %v, n_labels %v", pc, got["n_labels"])
	}
}

// writePreds writes a predictions CSV for d's images: noisy scores that lean towards
// the truth, columns in reverse vocabulary order.
func writePreds(t *testing.T, path string, d *dataset.Dataset, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	var b strings.Builder
	w := csv.NewWriter(&b)
	hdr := []string{"image"}
	for j := len(d.Labels) - 1; j >= 0; j-- {
		hdr = append(hdr, d.Labels[j])
	}
	w.Write(hdr)
	for _, s := range d.Samples {
		row := []string{s.Image}
		for j := len(d.Labels) - 1; j >= 0; j-- {
			v := 0.6 * rng.Float64()
			if s.Truth[j] == 1 {
				v += 0.4
			}
			row = append(row, strconv.FormatFloat(v, 'f', 4, 64))
		}
		w.Write(row)
	}
	w.Flush()
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func evalJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	code, out := runCLI(t, append(append([]string{"eval"}, args...), "--json", "-")...)
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEvalSharedData evaluates predictions against the real label files of ../shared:
// the MIML scenes in one-hot and list layout give the same figures, and COCO's
// instances JSON is matched by file name.
func TestEvalSharedData(t *testing.T) {
	t.Parallel()
	miml := sharedtest.Dir(t, "data/miml-scenes")
	onehot := filepath.Join(miml, "labels_onehot.csv")
	d, err := dataset.Load(onehot, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	preds := filepath.Join(t.TempDir(), "p.csv")
	writePreds(t, preds, d, 1)
	a := evalJSON(t, "--predictions", preds, "--data", onehot)
	b := evalJSON(t, "--predictions", preds, "--data", filepath.Join(miml, "labels_list.csv"))
	if a["n_images"] != float64(len(d.Samples)) || a["mAP"].(float64) < 0.8 {
		t.Errorf("one-hot: n_images %v, mAP %v", a["n_images"], a["mAP"])
	}
	for _, k := range []string{"mAP", "CF1", "OF1", "OF1_top3", "lrap", "coverage", "hamming_loss"} {
		if a[k] != b[k] {
			t.Errorf("%s: one-hot %v, list %v", k, a[k], b[k])
		}
	}

	coco := filepath.Join(sharedtest.Dir(t, "data/coco-mini"), "annotations", "instances_val2017.json")
	dc, err := dataset.Load(coco, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	writePreds(t, preds, dc, 2)
	c := evalJSON(t, "--predictions", preds, "--data", coco)
	if c["n_labels"] != float64(len(dc.Labels)) || c["mAP"] == nil {
		t.Errorf("coco: n_labels %v, mAP %v", c["n_labels"], c["mAP"])
	}
}
