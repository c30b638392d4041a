package finetune_test

import (
	"fmt"
	"log"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/finetune"
)

// Split a backbone's feature graph so that its last block trains: the prefix runs in an
// inference engine, the tail (and the head) in GoMLX.
func ExampleSplitModel() {
	b, err := backbone.Load("../internal/demo/backbone.onnx", backbone.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fm, err := b.FeatureModel()
	if err != nil {
		log.Fatal(err)
	}
	spec := b.Spec
	fb, err := backbone.LoadBytes(fm, "features", backbone.Options{FeatureNode: backbone.FeatureOutput, Spec: &spec})
	if err != nil {
		log.Fatal(err)
	}
	blocks := fb.Blocks()
	blk, err := finetune.CutFor(blocks, "1") // --unfreeze 1
	if err != nil {
		log.Fatal(err)
	}
	sp, err := finetune.SplitModel(fm, blk.Cut, fb.TensorShape(blk.Cut)[1:])
	if err != nil {
		log.Fatal(err)
	}
	// After training, sp.WriteBack(weights) gives the same graph with the new weights.
	fmt.Printf("%d blocks; the last, %s, starts at %s %v\n", len(blocks), blk.Name, sp.Cut, sp.CutShape)
	fmt.Printf("trainable tail parameters: %d in %d tensors\n", sp.Trainable(), len(sp.Weights))
	// Output:
	// 6 blocks; the last, b3, starts at d2.relu [32 6 6]
	// trainable tail parameters: 18496 in 4 tensors
}
