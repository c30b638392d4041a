package finetune

import (
	"os"
	"testing"

	"github.com/multilabel/multilabel/backbone"
)

// FuzzSplitModel: any bytes and cut name give a split or an error, never a panic, and
// a split's write-back of its own weights parses again.
func FuzzSplitModel(f *testing.F) {
	_, fm := demoFeatures(f)
	f.Add(fm, "d2.relu")
	f.Add(fm, "input")
	f.Add(fm, "nope")
	f.Add(fm[:len(fm)/2], "d2.relu")
	if bn, err := os.ReadFile("testdata/bn_cnn.onnx"); err == nil {
		f.Add(bn, "blk1.relu")
	}
	f.Add(splitDupModel(f), "d2.relu") // the finding "write back: 9 of 8 weights found"
	f.Add([]byte("not onnx"), "x")
	f.Fuzz(func(t *testing.T, data []byte, cut string) {
		sp, err := SplitModel(data, cut, []int64{32, 6, 6})
		if err != nil {
			return
		}
		if _, err := sp.WriteBack(sp.InitialWeights()); err != nil {
			t.Fatalf("write back: %v", err)
		}
	})
}

// FuzzCutFor: --unfreeze values never panic; accepted ones name a block.
func FuzzCutFor(f *testing.F) {
	blocks := []backbone.Block{{Name: "a", Cut: "x"}, {Name: "b", Cut: "y"}}
	for _, s := range []string{"1", "2", "all", "0", "-3", "", " 2 ", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := CutFor(blocks, s)
		if err == nil && b.Cut != "x" && b.Cut != "y" {
			t.Fatalf("CutFor(%q) = %+v", s, b)
		}
	})
}
