package headparams_test

import (
	"fmt"

	"github.com/multilabel/multilabel/headparams"
)

// A head is plain data; its pure-Go forward pass needs no GoMLX.
func ExampleParams_Logits() {
	p := &headparams.Params{Kind: headparams.Linear, In: 2, Out: 2,
		W1: []float32{1, 0, 0, -1}, // [in][out]
		B1: []float32{0.5, 0}}
	fmt.Println(p.Logits([]float32{1, 2, 3, 4}, 2))
	// Output: [1.5 -2 3.5 -4]
}
