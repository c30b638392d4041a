package backbone_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// TestReportBlocksSqueezeNet: the inspect report lists the cut points for fine-tuning,
// last blocks fire9 and fire8, in its JSON ("blocks") and in its text.
func TestReportBlocksSqueezeNet(t *testing.T) {
	t.Parallel()
	p := filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	b, err := backbone.Load(p, backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := b.Report()
	n := len(r.Blocks)
	if n < 2 || r.Blocks[n-1].Name != "fire9" || r.Blocks[n-2].Name != "fire8" {
		t.Fatalf("blocks %+v", r.Blocks)
	}
	if r.Blocks[n-1].Cut == "" || r.Blocks[n-1].TailParams <= 0 || r.Blocks[n-2].TailParams <= r.Blocks[n-1].TailParams {
		t.Errorf("last blocks %+v %+v", r.Blocks[n-2], r.Blocks[n-1])
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Blocks []backbone.Block `json:"blocks"`
	}
	if err := json.Unmarshal(data, &back); err != nil || len(back.Blocks) != n || back.Blocks[n-1].Name != "fire9" {
		t.Fatalf("JSON blocks %+v (%v)", back.Blocks, err)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, want := range []string{"blocks (cut points for fine-tuning", "K=1   fire9", "K=2   fire8"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}
