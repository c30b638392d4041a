package report_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/multilabel/multilabel/report"
)

func ExampleWrite() {
	dir, _ := os.MkdirTemp("", "report")
	defer os.RemoveAll(dir)
	in := report.Input{
		Title:  "Validation",
		Labels: []string{"cat", "dog"},
		Scores: [][]float32{{0.9, 0.2}, {0.3, 0.8}, {0.6, 0.7}},
		Truth:  [][]int8{{1, 0}, {0, 1}, {1, -1}},
		History: report.History{
			{Epoch: 1, TrainLoss: 0.7, ValLoss: 0.6, ValMAP: 0.8},
			{Epoch: 2, TrainLoss: 0.5, ValLoss: 0.5, ValMAP: 0.9},
		},
		// Extra sections: trusted HTML, built with the helpers.
		Sections: []report.Section{
			{Title: "Comparison", HTML: report.Table([]string{"model", "mAP"}, [][]string{{"linear", "0.91"}})},
		},
	}
	p, err := report.Write(dir, in)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(filepath.Base(p))
	// Output: index.html
}

func ExampleTable() {
	fmt.Println(report.Table([]string{"model", "mAP"}, [][]string{{"a<b>", "0.5"}}))
	// Output: <table><thead><tr><th>model</th><th>mAP</th></tr></thead><tbody><tr><td>a&lt;b&gt;</td><td>0.5</td></tr></tbody></table>
}
