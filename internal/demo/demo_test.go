package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/loss"
)

// tiny is a configuration small enough for a unit test; it checks structure and
// determinism, not the findings (see TestQuickShowsTransfer).
func tiny() Config {
	return Config{TrainImages: 48, TestImages: 40, ScratchEpochs: 1, FineTuneEpochs: 1, ProbeEpochs: 3,
		Batch: 16, LR: 3e-3, Seed: 5, RareLabels: 3, Engine: "go"}
}

func checkStructure(t *testing.T, r *Result, rare int) {
	t.Helper()
	methods := append(append([]string(nil), Methods...), GraphProbe)
	if len(r.Rows) != len(methods)*len(Losses) {
		t.Fatalf("%d rows, want %d", len(r.Rows), len(methods)*len(Losses))
	}
	for _, m := range methods {
		for _, l := range Losses {
			row := r.Row(m, l)
			if row == nil {
				t.Fatalf("row %s/%s missing", m, l)
			}
			for _, v := range []float64{row.MAP, row.CF1, row.OF1, row.RareAP} {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("row %s/%s: figure %v outside [0,1]", m, l, v)
				}
			}
			if len(row.RarePerClass) != rare || len(row.PerClassAP) != len(r.Labels) {
				t.Fatalf("row %s/%s: %d rare APs, %d per-class APs", m, l, len(row.RarePerClass), len(row.PerClassAP))
			}
		}
	}
	if len(r.Ablation) != len(Losses) || r.Ablation[0].Method != GraphNoEdges {
		t.Fatalf("%d ablation rows, want %d of %s", len(r.Ablation), len(Losses), GraphNoEdges)
	}
	if !strings.Contains(r.Summary(), "empty label graph") {
		t.Fatalf("summary lacks the co-occurrence ablation:\n%s", r.Summary())
	}
	table := r.Table(true)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 1+len(r.Rows) {
		t.Fatalf("table has %d lines, want %d:\n%s", len(lines), 1+len(r.Rows), table)
	}
	for _, want := range []string{"method", "mAP", "CF1", "OF1", "rareAP", "time", "AP:" + r.RareLabels[0]} {
		if !strings.Contains(lines[0], want) {
			t.Fatalf("table header lacks %q:\n%s", want, table)
		}
	}
}

func TestRunTinyDeterministic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := tiny()
	cfg.OutDir = t.TempDir()
	a, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkStructure(t, a, cfg.RareLabels)
	cfg.OutDir = ""
	b, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a.Table(false) != b.Table(false) {
		t.Fatalf("two runs with the same seed differ:\n%s\n%s", a.Table(false), b.Table(false))
	}
	t.Logf("\n%s", a.Table(true))
	for _, f := range []string{"report.html", "results.json", "demo.mlb", "backbone.onnx", "backbone.json",
		"data/train.csv", "data/test.csv", "data/train/00000.png"} {
		if _, err := os.Stat(filepath.Join(a.ReportPath, "..", f)); err != nil {
			t.Errorf("output %s missing: %v", f, err)
		}
	}
	html, err := os.ReadFile(a.ReportPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"demo-map", "demo-rare", "demo-loss", "demo-tail"} {
		if !strings.Contains(string(html), `data-plot="`+id+`"`) {
			t.Errorf("report lacks plot %s", id)
		}
	}
	if !strings.Contains(string(html), "data:image/png;base64,") {
		t.Error("report shows no test images")
	}
}

func TestRunBadBackbone(t *testing.T) {
	t.Parallel()
	cfg := tiny()
	cfg.Backbone = []byte("not onnx")
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Fatal("a junk backbone was accepted")
	}
}

var _ = loss.ASL

func TestFoldHead(t *testing.T) {
	t.Parallel()
	p, err := head.New(head.Linear, 3, 0, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	p.Mean = []float32{0.5, -1, 2}
	p.Std = []float32{2, 0.5, 1}
	p.B1 = []float32{0.1, -0.2}
	h, err := foldHead(p, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	f := []float32{1, 2, 3, -1, 0, 4}
	want := p.Scores(f, 2)
	got := h.Scores(f, 2)
	for i := range want {
		if d := want[i] - got[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("score %d: folded %v, head package %v", i, got[i], want[i])
		}
	}
	if _, err := foldHead(nil, 2, 3); err == nil {
		t.Fatal("nil head folded")
	}
}
