package metric_test

import (
	"fmt"

	"github.com/multilabel/multilabel/metric"
)

func ExampleEvaluate() {
	labels := []string{"cat", "dog", "traffic light"}
	scores := [][]float32{
		{0.9, 0.2, 0.1},
		{0.6, 0.7, 0.4},
		{0.1, 0.8, 0.3},
		{0.3, 0.4, 0.2},
	}
	truth := [][]int8{
		{1, 0, 0},
		{1, 1, -1}, // -1: unknown, left out
		{0, 1, 0},
		{0, 0, 0},
	}
	r, err := metric.Evaluate(scores, truth, labels, metric.Options{Threshold: 0.5, TopK: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("mAP %.3f (classes with positives: cat, dog)\n", r.MAP)
	fmt.Printf("traffic light has an AP: %v\n", r.PerClass[2].HasAP)
	fmt.Printf("CF1 %.3f OF1 %.3f top-1 OF1 %.3f\n", r.CF1, r.OF1, r.OF1TopK)
	// Output:
	// mAP 1.000 (classes with positives: cat, dog)
	// traffic light has an AP: false
	// CF1 1.000 OF1 1.000 top-1 OF1 0.857
}

func ExampleAveragePrecision() {
	// Tied scores enter together, as in scikit-learn.
	ap, ok := metric.AveragePrecision([]float32{0.8, 0.8, 0.3}, []int8{1, 0, 1})
	fmt.Printf("%.4f %v\n", ap, ok)
	// Output: 0.5833 true
}

func ExampleTuneThresholds() {
	scores := [][]float32{{0.9}, {0.45}, {0.4}, {0.2}}
	truth := [][]int8{{1}, {1}, {0}, {0}}
	th, _ := metric.TuneThresholds(scores, truth, metric.TuneOptions{MinPositives: 1})
	fmt.Printf("%.3f\n", th[0])
	// Output: 0.425
}

func ExampleBootstrapMAP() {
	scores := [][]float32{{0.9, 0.1}, {0.8, 0.7}, {0.3, 0.6}, {0.2, 0.4}, {0.6, 0.2}, {0.1, 0.9}}
	truth := [][]int8{{1, 0}, {1, 1}, {0, 1}, {0, 0}, {0, 0}, {0, 1}}
	lo, hi, err := metric.BootstrapMAP(scores, truth, 500, 42, 0.9)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _, _ := metric.MeanAP(scores, truth)
	fmt.Println(lo <= m && m <= hi, hi <= 1)
	// Output: true true
}
