//go:build ignore

// Command calib_study measures where per-label temperatures and precision:P thresholds
// are fitted, on MIML with cached features: a linear head (train defaults) on a seeded
// iterative-stratified split (-split, default 70/10/20), then
//
//   - val: temperatures and thresholds on the validation share (what train --calibrate
//     --decision did alone);
//   - oof: on out-of-fold logits over training + validation (train.OutOfFold, -folds
//     heads trained for the final head's best epoch count; what --calib-folds does);
//   - test-T: temperatures fitted (by NLL) on the test share itself: about the best a
//     temperature can do there;
//   - test-Platt: p = σ(a·z + b) per label fitted (by NLL) on the test share: a scale
//     and a shift, to tell a scale error from a shift; oof-Platt the same fitted on the
//     out-of-fold logits (what a scale-and-shift calibration would reach);
//   - perfect scores: the ECE of probabilities calibrated by construction (the oof-T
//     probabilities with truth drawn from them), the floor the 15-bin estimator itself
//     puts on a share of this size.
//
// It prints the test share's mean per-label ECE (15 bins) raw and after each fit, and
// per label with at least -min-pos test positives the test precision of precision:P
// with the number of predicted positives n, the binomial sd √(P(1−P)/n) that test
// sampling alone puts on it, and the hit rate |precision − P| ≤ -tol against the rate
// 2Φ(tol/sd) − 1 a perfect threshold would reach.
//
//	go run scripts/calib_study.go -features /tmp/miml.npy -seeds 1,2,3,4,5,6,7,8,9,10
//	go run scripts/calib_study.go -features /tmp/miml.npy -split 0.4,0.1,0.5
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/multilabel/multilabel/calib"
	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/train"
)

type hit struct {
	prec, n float64
}

func main() {
	data := flag.String("data", "../shared/data/miml-scenes/labels_onehot.csv", "MIML labels")
	feats := flag.String("features", "/tmp/miml.npy", "features in label-file order")
	seedList := flag.String("seeds", "1,2,3,4,5", "seeds")
	splitList := flag.String("split", "0.7,0.1,0.2", "train,validation,test shares")
	prec := flag.Float64("precision", 0.9, "precision target")
	tol := flag.Float64("tol", 0.03, "tolerance of the precision target")
	minPos := flag.Int("min-pos", 30, "labels with at least this many test positives are scored")
	folds := flag.Int("folds", 5, "out-of-fold heads")
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
	var shares []float64
	for _, s := range strings.Split(*splitList, ",") {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			log.Fatal(err)
		}
		shares = append(shares, v)
	}
	methods := []string{"val", "oof", "oof-platt-model", "oof-crossing", "oof-lcb"}
	hits := map[string][]hit{}
	fmt.Printf("split %s, precision:%g ± %g, labels with ≥ %d test positives\n\n", *splitList, *prec, *tol, *minPos)
	fmt.Println("| seed | ECE raw | ECE val-T | ECE oof-T | ECE test-T | ECE test-Platt | ECE oof-Platt | ECE of perfect scores | ECE oof-Platt (calib.FitPlatt) | T (val) | T (oof) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	var eces [8][]float64
	var detail []string
	for _, ss := range strings.Split(*seedList, ",") {
		seed, _ := strconv.ParseUint(ss, 10, 64)
		parts, err := dataset.IterativeStratify(d, shares, seed)
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
		oc := cfg
		oc.Epochs = res.BestEpoch
		allX := append(append([]float32{}, trX...), vaX...)
		allY := append(append([][]int8{}, trY...), vaY...)
		ol, err := train.OutOfFold(context.Background(), oc, allX, allY, dim, *folds)
		if err != nil {
			log.Fatal(err)
		}
		fitT := func(l [][]float32, y [][]int8) []float64 {
			t, err := calib.FitTemperatures(l, y)
			if err != nil {
				log.Fatal(err)
			}
			return t
		}
		tVal, tOOF, tTest := fitT(vl, vaY), fitT(ol, allY), fitT(tl, teY)
		ones := make([]float64, len(tVal))
		for i := range ones {
			ones[i] = 1
		}
		e := func(t []float64) float64 { return mean(calib.ECE(calib.Apply(tl, t), teY, 15)) }
		// The estimator's own floor: the ECE of scores that are perfectly calibrated by
		// construction (truth drawn as Bernoulli(p) from the oof-T probabilities of the
		// test share), mean of 20 draws.
		floor := 0.0
		rng := rand.New(rand.NewPCG(seed, 0xece))
		pt := calib.Apply(tl, tOOF)
		for k := 0; k < 20; k++ {
			ys := make([][]int8, len(pt))
			for i, r := range pt {
				ys[i] = make([]int8, len(r))
				for c, p := range r {
					if rng.Float64() < float64(p) {
						ys[i][c] = 1
					}
				}
			}
			floor += mean(calib.ECE(pt, ys, 15)) / 20
		}
		row := []float64{e(ones), e(tVal), e(tOOF), e(tTest), mean(calib.ECE(platt(tl, teY, tl), teY, 15)), mean(calib.ECE(platt(ol, allY, tl), teY, 15)), floor}
		pa, pb, err := calib.FitPlatt(ol, allY) // what train --calibrate platt folds into the head
		if err != nil {
			log.Fatal(err)
		}
		row = append(row, mean(calib.ECE(calib.ApplyAffine(tl, pa, pb), teY, 15)))
		for k := range row {
			eces[k] = append(eces[k], row[k])
		}
		fmt.Printf("| %d | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %s | %s |\n", seed, row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], fmtT(tVal), fmtT(tOOF))
		dec := calib.Decision{Kind: calib.Precision, Target: *prec}
		for _, m := range methods {
			var th []float64
			var temps []float64
			switch m {
			case "val":
				temps = tVal
				th, _, err = calib.Thresholds(dec, calib.Apply(vl, temps), vaY)
			case "oof":
				temps = tOOF
				th, _, err = calib.Thresholds(dec, calib.Apply(ol, temps), allY)
			default:
				th = altThresholds(m, calib.ApplyAffine(ol, pa, pb), allY, *prec)
			}
			if err != nil {
				log.Fatal(err)
			}
			tp := calib.Apply(tl, temps)
			if m != "val" && m != "oof" {
				tp = calib.ApplyAffine(tl, pa, pb)
			}
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
				if pos < *minPos || b == 0 {
					continue
				}
				h := hit{float64(a) / float64(b), float64(b)}
				hits[m] = append(hits[m], h)
				detail = append(detail, fmt.Sprintf("%d %s %s: %.3f of %d", seed, m, d.Labels[c], h.prec, b))
			}
		}
	}
	fmt.Printf("| mean | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | | |\n", mean(eces[0]), mean(eces[1]), mean(eces[2]), mean(eces[3]), mean(eces[4]), mean(eces[5]), mean(eces[6]), mean(eces[7]))
	lower := func(k int) int {
		c := 0
		for i := range eces[k] {
			if eces[k][i] < eces[0][i] {
				c++
			}
		}
		return c
	}
	fmt.Printf("\nseeds with a lower ECE than raw: val-T %d/%d, oof-T %d/%d, test-T %d/%d, oof-Platt (calib.FitPlatt) %d/%d\n", lower(1), len(eces[0]), lower(2), len(eces[0]), lower(3), len(eces[0]), lower(7), len(eces[0]))
	pl := 0
	for i := range eces[7] {
		if eces[7][i] < eces[2][i] {
			pl++
		}
	}
	fmt.Printf("seeds where oof-Platt beats oof-T: %d/%d\n\n", pl, len(eces[0]))
	fmt.Println("| fit | cases | hits within ±tol | hit rate | perfect-threshold hit rate (binomial floor) | mean n | mean precision − P (± s.e.) | sd of precision |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, m := range methods {
		h := hits[m]
		k, floor, nsum := 0, 0.0, 0.0
		var dev []float64
		for _, v := range h {
			if math.Abs(v.prec-*prec) <= *tol+1e-12 {
				k++
			}
			sd := math.Sqrt(*prec * (1 - *prec) / v.n)
			floor += math.Erf(*tol / sd / math.Sqrt2)
			nsum += v.n
			dev = append(dev, v.prec-*prec)
		}
		md, sd := meanSD(dev)
		fmt.Printf("| %s | %d | %d | %.2f | %.2f | %.1f | %+.4f ± %.4f | %.4f |\n", m, len(h), k, float64(k)/float64(len(h)), floor/float64(len(h)), nsum/float64(len(h)), md, sd/math.Sqrt(float64(len(dev))), sd)
	}
	fmt.Println()
	for _, s := range detail {
		log.Print(s)
	}
}

// platt fits p = σ(a·z + b) per label on (logits l, truth y) by Newton's method on
// the log-likelihood and returns the probabilities of the logits on.
func platt(l [][]float32, y [][]int8, on [][]float32) [][]float32 {
	out := make([][]float32, len(on))
	for i := range out {
		out[i] = make([]float32, len(on[i]))
	}
	for c := range l[0] {
		a, b := 1.0, 0.0
		for it := 0; it < 50; it++ {
			var ga, gb, haa, hab, hbb float64
			for i := range l {
				z := float64(l[i][c])
				p := 1 / (1 + math.Exp(-(a*z + b)))
				r := p - float64(y[i][c])
				w := p * (1 - p)
				ga, gb = ga+r*z, gb+r
				haa, hab, hbb = haa+w*z*z, hab+w*z, hbb+w
			}
			haa, hbb = haa+1e-9, hbb+1e-9
			det := haa*hbb - hab*hab
			if det <= 0 {
				break
			}
			a -= (hbb*ga - hab*gb) / det
			b -= (haa*gb - hab*ga) / det
		}
		for i := range on {
			out[i][c] = float32(1 / (1 + math.Exp(-(a*float64(on[i][c]) + b))))
		}
	}
	return out
}

func fmtT(t []float64) string {
	s := make([]string, len(t))
	for i, v := range t {
		s[i] = strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strings.Join(s, " ")
}

func mean(v []float64) float64 {
	s, n := 0.0, 0
	for _, x := range v {
		if !math.IsNaN(x) {
			s += x
			n++
		}
	}
	return s / float64(n)
}

func meanSD(v []float64) (float64, float64) {
	m := mean(v)
	s := 0.0
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	if len(v) < 2 {
		return m, 0
	}
	return m, math.Sqrt(s / float64(len(v)-1))
}

// altThresholds chooses a precision:P threshold per label on the out-of-fold
// Platt-calibrated probabilities p and their truth y, three other ways than the
// lowest threshold whose precision reaches P (the build's rule):
//
//   - oof-platt-model: the lowest threshold whose expected precision, the mean
//     calibrated probability of the images at or above it, reaches P (no labels in the
//     curve: smooth, but only as good as the calibration);
//   - oof-crossing: the median of the points where the precision curve crosses P
//     downwards (ranked by score, k images predicted), instead of the last one;
//   - oof-lcb: the lowest threshold whose Wilson lower bound (z = 1) on the precision
//     reaches P.
func altThresholds(m string, p [][]float32, y [][]int8, target float64) []float64 {
	th := make([]float64, len(p[0]))
	for c := range th {
		type pt struct {
			s float64
			y int8
		}
		var pts []pt
		for i := range p {
			if y[i][c] >= 0 {
				pts = append(pts, pt{float64(p[i][c]), y[i][c]})
			}
		}
		sort.Slice(pts, func(a, b int) bool { return pts[a].s > pts[b].s })
		tp, sp := 0.0, 0.0
		best, last := -1, -1
		var cross []int
		prevOK := false
		for k, q := range pts {
			tp += float64(q.y)
			sp += q.s
			n := float64(k + 1)
			if k+1 < len(pts) && pts[k+1].s == q.s {
				continue // thresholds only between distinct scores
			}
			prec := tp / n
			ok := false
			switch m {
			case "oof-platt-model":
				ok = sp/n >= target
			case "oof-crossing":
				ok = prec >= target
			case "oof-lcb":
				z := 1.0
				lcb := (prec + z*z/(2*n) - z*math.Sqrt(prec*(1-prec)/n+z*z/(4*n*n))) / (1 + z*z/n)
				ok = lcb >= target
			default:
				log.Fatalf("method %q", m)
			}
			if ok {
				best = k
			}
			if prevOK && !ok && k >= 10 {
				cross = append(cross, last)
			}
			if ok {
				last = k
			}
			prevOK = ok
		}
		if m == "oof-crossing" && len(cross) > 0 {
			if prevOK {
				cross = append(cross, best)
			}
			best = cross[len(cross)/2]
		}
		if best < 0 {
			th[c] = 0.5
			continue
		}
		th[c] = pts[best].s
	}
	return th
}
