package head_test

import (
	"fmt"

	"github.com/multilabel/multilabel/head"
)

// A boat is only ever seen with the sea, the sea often without a boat, the sky with
// either: with τ 0.6 the boat links to the sea and the sky (P = 1), the sea and the sky to
// each other (P = 3/4) but not to the boat (P = 1/2).
func ExampleNewLabelGraph() {
	// Labels: sea, boat, sky.
	y := [][]int8{{1, 1, 1}, {1, 0, 1}, {1, 0, 0}, {1, 1, 1}, {0, 0, 1}}
	g, err := head.NewLabelGraph(y, 0.6, 0.2)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := 0; i < g.Labels; i++ {
		fmt.Printf("%.2f\n", g.Adj[i*g.Labels:(i+1)*g.Labels])
	}
	fmt.Println("links:", g.Edges, "isolated:", g.Isolated)
	// Output:
	// [0.80 0.00 0.20]
	// [0.10 0.80 0.10]
	// [0.20 0.00 0.80]
	// links: 4 isolated: []
}
