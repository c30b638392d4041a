package loss_test

import (
	"fmt"

	"github.com/multilabel/multilabel/loss"
)

// Positive weights for the "weighted" loss come from the label frequencies:
// negatives/positives per class, clipped to [1, max]; unknown labels (-1) are ignored.
func ExamplePosWeights() {
	labels := [][]int8{{1, 0}, {0, 0}, {0, -1}, {0, 1}}
	fmt.Println(loss.PosWeights(labels, 2, 10))
	// Output: [3 2]
}

func ExampleDefaults() {
	fmt.Printf("%+v\n", loss.Defaults(loss.ASL))
	// Output: {Kind:asl PosWeight:[] MaxPosWeight:0 Gamma:0 Alpha:0 GammaPos:0 GammaNeg:4 Clip:0.05 Eps:1e-08 DetachFocal:false DBAlpha:0 DBBeta:0 DBMu:0 DBKappa:0 DBLambda:0 ClassCounts:[] ClassKnown:[]}
}

// The distribution-balanced loss takes its class statistics from the training labels:
// known positives and images where the class is known (unknown entries, -1, count in neither).
func ExampleClassCounts() {
	labels := [][]int8{{1, 0}, {0, -1}, {1, 1}}
	pos, known := loss.ClassCounts(labels, 2)
	fmt.Println(pos, known)
	// Output: [2 1] [3 2]
}
