//go:build ignore

// Command imbalance_miml measures the samplers and losses on MIML with one label made
// rare: after a seeded 70/10/20 iterative-stratified split, only keep% of the rare
// label's positive images stay in the training share (the others are dropped,
// seeded). It trains a linear head for each sampler × loss on cached backbone features
// and prints the test AP of the rare label and the test mAP, averaged over seeds.
//
//	multilabel features --backbone ../shared/models/squeezenet1.1/squeezenet1.1-fp16.onnx \
//	    --data ../shared/data/miml-scenes/labels_onehot.csv --out /tmp/miml.npy
//	go run scripts/imbalance_miml.go -features /tmp/miml.npy -rare sea -keep 0.1 -seeds 1,2,3
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/loss"
	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/sampler"
	"github.com/multilabel/multilabel/train"
)

func main() {
	data := flag.String("data", "../shared/data/miml-scenes/labels_onehot.csv", "MIML labels")
	feats := flag.String("features", "/tmp/miml.npy", "features of the images in label-file order (multilabel features --out)")
	rare := flag.String("rare", "sea", "label made rare in the training share")
	keep := flag.Float64("keep", 0.1, "share of the rare label's training positives kept")
	seedList := flag.String("seeds", "1,2,3", "seeds (split, rare selection, training)")
	losses := flag.String("losses", "bce,asl,db", "losses")
	samplers := flag.String("samplers", "uniform,repeat-factor,repeat-factor@0.1,class-aware,ml-ros", "samplers (repeat-factor@T sets the threshold, ml-ros@P the percent)")
	lr := flag.Float64("lr", 0, "head learning rate (0: train.DefaultConfig's)")
	flag.Parse()

	d, err := dataset.Load(*data, dataset.Options{})
	if err != nil {
		log.Fatal(err)
	}
	x, shape, err := featcache.ReadNPY(*feats)
	if err != nil {
		log.Fatal(err)
	}
	if len(shape) != 2 || shape[0] != len(d.Samples) {
		log.Fatalf("features %v for %d images", shape, len(d.Samples))
	}
	dim := shape[1]
	rl := d.LabelIndex(*rare)
	if rl < 0 {
		log.Fatalf("no label %q", *rare)
	}
	type key struct{ s, l string }
	sumRare, sumMAP := map[key]float64{}, map[key]float64{}
	var seeds []uint64
	for _, s := range strings.Split(*seedList, ",") {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			log.Fatal(err)
		}
		seeds = append(seeds, v)
	}
	for _, seed := range seeds {
		parts, err := dataset.IterativeStratify(d, []float64{0.7, 0.1, 0.2}, seed)
		if err != nil {
			log.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(seed, 0xa11))
		var train_ []int
		kept, dropped := 0, 0
		for _, i := range parts[0] {
			if d.Samples[i].Has(rl) {
				if rng.Float64() >= *keep {
					dropped++
					continue
				}
				kept++
			}
			train_ = append(train_, i)
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
		trX, trY := rows(train_)
		vaX, vaY := rows(parts[1])
		teX, teY := rows(parts[2])
		log.Printf("seed %d: %d train images (%s: %d kept, %d dropped), %d val, %d test", seed, len(trY), *rare, kept, dropped, len(vaY), len(teY))
		for _, sname := range strings.Split(*samplers, ",") {
			sc := sampler.Config{Kind: sname}
			if k, t, ok := strings.Cut(sname, "@"); ok {
				v, err := strconv.ParseFloat(t, 64)
				if err != nil {
					log.Fatal(err)
				}
				sc = sampler.Config{Kind: k, RepeatThreshold: v}
				if k == sampler.MLROS {
					sc = sampler.Config{Kind: k, ROSPercent: v}
				}
			}
			for _, lname := range strings.Split(*losses, ",") {
				cfg := train.DefaultConfig()
				cfg.Loss, cfg.Seed, cfg.Sampler = lname, seed, sc
				if *lr > 0 {
					cfg.LR = *lr
				}
				res, err := train.Fit(context.Background(), cfg, trX, trY, vaX, vaY, dim, train.Callbacks{})
				if err != nil {
					log.Fatalf("%s %s: %v", sname, lname, err)
				}
				l, err := res.Head.Forward(teX, len(teY))
				if err != nil {
					log.Fatal(err)
				}
				s := make([][]float32, len(teY))
				for i := range s {
					s[i] = l[i*res.Head.Out : (i+1)*res.Head.Out]
				}
				m, per, _ := metric.MeanAP(s, teY)
				k := key{sname, lname}
				sumRare[k] += per[rl]
				sumMAP[k] += m
				log.Printf("seed %d %-18s %-4s rare AP %.4f mAP %.4f (best epoch %d)", seed, sname, lname, per[rl], m, res.BestEpoch)
			}
		}
	}
	n := float64(len(seeds))
	base := key{"uniform", loss.BCE}
	fmt.Printf("| sampler | loss | rare-label (%s) AP | Δ vs uniform+bce | mAP | Δ mAP |\n|---|---|---|---|---|---|\n", *rare)
	for _, sname := range strings.Split(*samplers, ",") {
		for _, lname := range strings.Split(*losses, ",") {
			k := key{sname, lname}
			fmt.Printf("| %s | %s | %.4f | %+.4f | %.4f | %+.4f |\n", sname, lname, sumRare[k]/n, (sumRare[k]-sumRare[base])/n, sumMAP[k]/n, (sumMAP[k]-sumMAP[base])/n)
		}
	}
}
