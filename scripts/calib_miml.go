//go:build ignore

// Command calib_miml measures package calib on MIML: a linear head (train defaults) on
// cached features with a seeded 70/10/20 split; temperatures fitted on the validation
// share; the test share's mean per-label ECE before and after, and the test precision
// per label of the precision:P rule (chosen on the calibrated validation scores).
//
//	go run scripts/calib_miml.go -features /tmp/miml.npy -seeds 1,2,3 -precision 0.9
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strconv"
	"strings"

	"github.com/multilabel/multilabel/calib"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/train"
)

func main() {
	data := flag.String("data", "../shared/data/miml-scenes/labels_onehot.csv", "MIML labels")
	feats := flag.String("features", "/tmp/miml.npy", "features in label-file order")
	seedList := flag.String("seeds", "1,2,3", "seeds")
	prec := flag.Float64("precision", 0.9, "precision target")
	flag.Parse()
	d, err := dataset.Load(*data, dataset.Options{})
	if err != nil {
		log.Fatal(err)
	}
	x, shape, err := featcache.ReadNPY(*feats)
	if err != nil {
		log.Fatal(err)
	}
	dim := shape[1]
	fmt.Println("| seed | mean ECE raw | mean ECE calibrated | temperatures | test precision per label at precision:" + strconv.FormatFloat(*prec, 'g', -1, 64) + " (positives) |")
	fmt.Println("|---|---|---|---|---|")
	for _, ss := range strings.Split(*seedList, ",") {
		seed, _ := strconv.ParseUint(ss, 10, 64)
		parts, err := dataset.IterativeStratify(d, []float64{0.7, 0.1, 0.2}, seed)
		if err != nil {
			log.Fatal(err)
		}
		rows := func(idx []int) ([]float32, [][]int8) {
			var xs []float32
			var ys [][]int8
			for _, i := range idx {
				xs = append(xs, x[i*dim:(i+1)*dim]...)
				ys = append(ys, d.Samples[i].Truth)
			}
			return xs, ys
		}
		trX, trY := rows(parts[0])
		vaX, vaY := rows(parts[1])
		teX, teY := rows(parts[2])
		cfg := train.DefaultConfig()
		cfg.Seed = seed
		res, err := train.Fit(context.Background(), cfg, trX, trY, vaX, vaY, dim, train.Callbacks{})
		if err != nil {
			log.Fatal(err)
		}
		logits := func(x []float32, n int) [][]float32 {
			l, err := res.Head.Forward(x, n)
			if err != nil {
				log.Fatal(err)
			}
			out := make([][]float32, n)
			for i := range out {
				out[i] = l[i*res.Head.Out : (i+1)*res.Head.Out]
			}
			return out
		}
		vl, tl := logits(vaX, len(vaY)), logits(teX, len(teY))
		temps, err := calib.FitTemperatures(vl, vaY)
		if err != nil {
			log.Fatal(err)
		}
		ones := make([]float64, len(temps))
		for i := range ones {
			ones[i] = 1
		}
		mean := func(v []float64) float64 {
			s := 0.0
			for _, x := range v {
				s += x
			}
			return s / float64(len(v))
		}
		eRaw := mean(calib.ECE(calib.Apply(tl, ones), teY, 15))
		eCal := mean(calib.ECE(calib.Apply(tl, temps), teY, 15))
		th, notes, err := calib.Thresholds(calib.Decision{Kind: calib.Precision, Target: *prec}, calib.Apply(vl, temps), vaY)
		if err != nil {
			log.Fatal(err)
		}
		for _, n := range notes {
			log.Print(n)
		}
		tp := calib.Apply(tl, temps)
		var per []string
		for c := range th {
			a, b, pos := 0, 0, 0
			for i := range tp {
				if teY[i][c] == 1 {
					pos++
				}
				if float64(tp[i][c]) >= th[c] {
					b++
					if teY[i][c] == 1 {
						a++
					}
				}
			}
			per = append(per, fmt.Sprintf("%s %.3f (%d)", d.Labels[c], float64(a)/float64(max(b, 1)), pos))
		}
		ts := make([]string, len(temps))
		for i, t := range temps {
			ts[i] = strconv.FormatFloat(t, 'f', 2, 64)
		}
		fmt.Printf("| %d | %.4f | %.4f | %s | %s |\n", seed, eRaw, eCal, strings.Join(ts, " "), strings.Join(per, ", "))
	}
}
