package dataset_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/multilabel/multilabel/dataset"
)

func Example() {
	d, err := dataset.Load("testdata/scenes.csv", dataset.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Format, d.Labels)
	fmt.Println(d.Samples[0].Image, d.Samples[0].Truth)

	// Split 50/50 keeping label proportions, then write the first part.
	parts, err := dataset.IterativeStratify(d, []float64{0.5, 0.5}, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(parts[0]), len(parts[1]))
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	if err := dataset.WriteCSV(filepath.Join(dir, "train.csv"), d.Subset(parts[0])); err != nil {
		fmt.Println(err)
	}
	// Output:
	// csv-list [desert mountains sea sunset trees]
	// beach.jpg [0 0 1 1 0]
	// 4 4
}

func ExampleLoad_errors() {
	// Label-file errors name the file and line, and are bad input.
	_, err := dataset.Load("testdata/bad_onehot.csv", dataset.Options{})
	fmt.Println(err)
	fmt.Println(dataset.IsBadInput(err))
	// Output:
	// testdata/bad_onehot.csv:3: label "dog": value "yes" is not 1, 0, -1, ? or empty
	// true
}
