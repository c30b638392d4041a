//go:build ignore

// Command imbalance_study measures training recipes for imbalanced labels against
// uniform + bce, paired per (rare label, seed), with the noise that a difference has to
// beat. Two worlds:
//
//   - miml: MIML with each label of -rare made rare in turn (after a seeded 70/10/20
//     iterative-stratified split only -keep of its training positives stay; validation
//     and test untouched), on cached backbone features;
//   - synth: the demo's procedural long-tailed world (internal/synth; features from the
//     embedded demo backbone, internal/demo), a fresh train/validation/test draw per
//     seed; the rare labels are the -synth-rare rarest training labels, as the demo's
//     table defines them.
//
// A recipe is "sampler[@v]+loss[+knob...]": sampler uniform, repeat-factor@t,
// class-aware or ml-ros@percent; loss bce, weighted, focal, asl or db; knobs mlp (MLP
// head), h=N (its hidden width), do=X (its dropout), e=N (epochs), p=N (patience), lr=X,
// wd=X, pw=X (weighted loss: max positive weight), selrare (select the epoch on the rare label's validation AP alone: is the
// baseline under-trained for it?), full (MIML: keep all positives, the ceiling the
// imbalance is measured against) and reseed (the baseline again with another training
// seed: the noise of training alone).
//
//	multilabel features --backbone ../shared/models/squeezenet1.1/squeezenet1.1-fp16.onnx \
//	    --data ../shared/data/miml-scenes/labels_onehot.csv --out /tmp/miml.npy
//	go run scripts/imbalance_study.go -world miml -features /tmp/miml.npy -seeds 1,2,3,4,5
//	go run scripts/imbalance_study.go -world synth -seeds 1,2,3,4,5
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

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/head"
	"github.com/multilabel/multilabel/internal/demo"
	"github.com/multilabel/multilabel/internal/synth"
	"github.com/multilabel/multilabel/internal/synth/cnn"
	"github.com/multilabel/multilabel/loss"
	"github.com/multilabel/multilabel/metric"
	"github.com/multilabel/multilabel/sampler"
	"github.com/multilabel/multilabel/train"
)

const defaultRecipes = "uniform+bce,uniform+bce+reseed,uniform+bce+selrare,uniform+bce+p=0+e=300," +
	"uniform+asl,uniform+db,uniform+weighted,uniform+weighted+pw=100,uniform+focal," +
	"repeat-factor@0.1+bce,repeat-factor@0.3+bce,repeat-factor@0.3+asl,class-aware+bce,class-aware+asl," +
	"ml-ros@25+bce,ml-ros@25+asl,ml-ros@100+bce,ml-ros@100+asl,ml-ros@100+db," +
	"uniform+bce+mlp,ml-ros@100+bce+mlp,uniform+bce+wd=0.01,uniform+bce+full"

// split is one (rare label, seed) case: training, validation and test features.
type split struct {
	rare             []int // label indices whose AP is "rare-label AP" (mean)
	trX, vaX, teX    []float32
	trY, vaY, teY    [][]int8
	fullX            []float32 // miml: the training share with every positive kept
	fullY            [][]int8
	seed             uint64
	name             string
	rarePos, fullPos int
}

type result struct{ rare, mAP float64 }

func main() {
	world := flag.String("world", "miml", "miml or synth")
	data := flag.String("data", "../shared/data/miml-scenes/labels_onehot.csv", "MIML labels")
	feats := flag.String("features", "/tmp/miml.npy", "MIML features in label-file order")
	rareList := flag.String("rare", "desert,mountains,sea,sunset,trees", "miml: labels made rare, one at a time")
	keep := flag.Float64("keep", 0.1, "miml: share of the rare label's training positives kept")
	seedList := flag.String("seeds", "1,2,3,4,5", "seeds")
	recipes := flag.String("recipes", defaultRecipes, "recipes (see the package comment)")
	synthTrain := flag.Int("synth-train", 400, "synth: training images (the demo's default)")
	synthVal := flag.Int("synth-val", 200, "synth: validation images")
	synthTest := flag.Int("synth-test", 800, "synth: test images (the demo's default)")
	synthRare := flag.Int("synth-rare", 4, "synth: how many of the rarest training labels are the rare ones")
	flag.Parse()

	var seeds []uint64
	for _, s := range strings.Split(*seedList, ",") {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			log.Fatal(err)
		}
		seeds = append(seeds, v)
	}
	var cases []split
	var dim int
	switch *world {
	case "miml":
		cases, dim = mimlCases(*data, *feats, strings.Split(*rareList, ","), *keep, seeds)
	case "synth":
		cases, dim = synthCases(*synthTrain, *synthVal, *synthTest, *synthRare, seeds)
	default:
		log.Fatalf("world %q: want miml or synth", *world)
	}
	var names []string
	for _, r := range strings.Split(*recipes, ",") {
		if *world == "synth" && strings.Contains(r, "+full") {
			continue // nothing was dropped: the world's tail is its own
		}
		names = append(names, r)
	}
	res := map[string][]result{}
	for _, c := range cases {
		for _, r := range names {
			v, err := run(r, c, dim)
			if err != nil {
				log.Fatalf("%s %s: %v", c.name, r, err)
			}
			res[r] = append(res[r], v)
			log.Printf("%s %-28s rare AP %.4f mAP %.4f", c.name, r, v.rare, v.mAP)
		}
	}
	base := res["uniform+bce"]
	if base == nil {
		log.Fatal("recipes must include uniform+bce")
	}
	// The test share's own noise: bootstrap sd of the baseline's rare-label AP.
	fmt.Printf("\n%d cases (%s world, rare label × seed); Δ are paired against uniform+bce in the same case.\n\n", len(cases), *world)
	fmt.Println("| recipe | rare AP | Δ rare AP (mean ± sd) | ± s.e. | cases Δ > 0 | mAP | Δ mAP |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, r := range names {
		v := res[r]
		var dr, dm, ra, ma []float64
		wins := 0
		for i := range v {
			dr = append(dr, v[i].rare-base[i].rare)
			dm = append(dm, v[i].mAP-base[i].mAP)
			ra, ma = append(ra, v[i].rare), append(ma, v[i].mAP)
			if v[i].rare > base[i].rare {
				wins++
			}
		}
		m, sd := meanSD(dr)
		fmt.Printf("| %s | %.4f | %+.4f ± %.4f | %.4f | %d/%d | %.4f | %+.4f |\n", r, mean(ra), m, sd, sd/math.Sqrt(float64(len(dr))), wins, len(dr), mean(ma), mean(dm))
	}
	if *world == "miml" {
		fmt.Println("\nPer rare label (mean over seeds): rare AP of uniform+bce, and Δ of each recipe")
		labels := strings.Split(*rareList, ",")
		fmt.Printf("\n| recipe | %s |\n|---|%s\n", strings.Join(labels, " | "), strings.Repeat("---|", len(labels)))
		for _, r := range names {
			row := []string{}
			for li := range labels {
				var d []float64
				for i, c := range cases {
					if c.name[:strings.Index(c.name, "/")] == labels[li] {
						if r == "uniform+bce" {
							d = append(d, base[i].rare)
						} else {
							d = append(d, res[r][i].rare-base[i].rare)
						}
					}
				}
				if r == "uniform+bce" {
					row = append(row, fmt.Sprintf("%.4f", mean(d)))
				} else {
					row = append(row, fmt.Sprintf("%+.4f", mean(d)))
				}
			}
			fmt.Printf("| %s | %s |\n", r, strings.Join(row, " | "))
		}
	}
	// Bootstrap sd of the rare-label AP on the test share (baseline head, first case).
	fmt.Println()
	for _, c := range cases[:min(len(cases), 5)] {
		h, err := fit(train.DefaultConfig(), c, c.trX, c.trY, c.vaY, dim)
		if err != nil {
			log.Fatal(err)
		}
		sd := bootstrapSD(h, c, 200)
		fmt.Printf("%s: bootstrap sd of the rare-label test AP (200 resamples of the test share): %.4f (%d rare training positives, %d before)\n", c.name, sd, c.rarePos, c.fullPos)
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
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

func rows(x []float32, dim int, idx []int, truth func(int) []int8) ([]float32, [][]int8) {
	var xs []float32
	var ys [][]int8
	for _, i := range idx {
		xs = append(xs, x[i*dim:(i+1)*dim]...)
		ys = append(ys, truth(i))
	}
	return xs, ys
}

func mimlCases(data, feats string, rare []string, keep float64, seeds []uint64) ([]split, int) {
	d, err := dataset.Load(data, dataset.Options{})
	if err != nil {
		log.Fatal(err)
	}
	x, shape, err := featcache.ReadNPY(feats)
	if err != nil {
		log.Fatal(err)
	}
	if len(shape) != 2 || shape[0] != len(d.Samples) {
		log.Fatalf("features %v for %d images", shape, len(d.Samples))
	}
	dim := shape[1]
	truth := func(i int) []int8 { return d.Samples[i].Truth }
	var out []split
	for _, name := range rare {
		rl := d.LabelIndex(name)
		if rl < 0 {
			log.Fatalf("no label %q", name)
		}
		for _, seed := range seeds {
			parts, err := dataset.IterativeStratify(d, []float64{0.7, 0.1, 0.2}, seed)
			if err != nil {
				log.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(seed, 0xa11))
			var tr []int
			c := split{rare: []int{rl}, seed: seed, name: fmt.Sprintf("%s/%d", name, seed)}
			for _, i := range parts[0] {
				if d.Samples[i].Has(rl) {
					c.fullPos++
					if rng.Float64() >= keep {
						continue
					}
					c.rarePos++
				}
				tr = append(tr, i)
			}
			c.trX, c.trY = rows(x, dim, tr, truth)
			c.fullX, c.fullY = rows(x, dim, parts[0], truth)
			c.vaX, c.vaY = rows(x, dim, parts[1], truth)
			c.teX, c.teY = rows(x, dim, parts[2], truth)
			out = append(out, c)
		}
	}
	return out, dim
}

func synthCases(nTr, nVa, nTe, nRare int, seeds []uint64) ([]split, int) {
	net, err := cnn.ImportONNX(demo.EmbeddedBackbone())
	if err != nil {
		log.Fatal(err)
	}
	world := synth.Config{Size: net.Arch.Size}
	dim := net.Arch.FeatureDim()
	feat := func(s []synth.Sample) ([]float32, [][]int8) {
		f, err := net.Run(synth.Tensors(s), len(s), cnn.StageStem, 0, cnn.Features, 64)
		if err != nil {
			log.Fatal(err)
		}
		y := make([][]int8, len(s))
		for i := range s {
			y[i] = s[i].Truth
		}
		return f, y
	}
	var out []split
	for _, seed := range seeds {
		c := split{seed: seed}
		tr := synth.Target(world, nTr, seed*7919+1) // the demo's training draw
		c.trX, c.trY = feat(tr)
		c.vaX, c.vaY = feat(synth.Target(world, nVa, seed*7919+3))
		c.teX, c.teY = feat(synth.Target(world, nTe, seed*7919+2))
		counts, _ := synth.Stats(tr)
		idx := make([]int, len(counts))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return counts[idx[a]] < counts[idx[b]] })
		// Only labels with at least one positive in validation and test take part.
		has := func(y [][]int8, j int) bool {
			for _, r := range y {
				if r[j] == 1 {
					return true
				}
			}
			return false
		}
		var rn []string
		for _, j := range idx {
			if len(c.rare) == nRare {
				break
			}
			if has(c.vaY, j) && has(c.teY, j) {
				c.rare = append(c.rare, j)
				c.rarePos += counts[j]
				rn = append(rn, fmt.Sprintf("%s(%d)", synth.TargetLabels()[j], counts[j]))
			}
		}
		c.fullPos = c.rarePos
		c.name = fmt.Sprintf("synth/%d", seed)
		log.Printf("%s: rare labels %s (training positives)", c.name, strings.Join(rn, " "))
		out = append(out, c)
	}
	return out, dim
}

// run trains recipe r on case c and returns the test rare-label AP and mAP.
func run(r string, c split, dim int) (result, error) {
	parts := strings.Split(r, "+")
	if len(parts) < 2 {
		return result{}, fmt.Errorf("recipe %q: want sampler+loss[+knob...]", r)
	}
	cfg := train.DefaultConfig()
	cfg.Seed = c.seed
	sname := parts[0]
	sc := sampler.Config{Kind: sname}
	if k, t, ok := strings.Cut(sname, "@"); ok {
		v, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return result{}, err
		}
		sc = sampler.Config{Kind: k, RepeatThreshold: v}
		if k == sampler.MLROS {
			sc = sampler.Config{Kind: k, ROSPercent: v}
		}
	}
	cfg.Sampler = sc
	cfg.Loss = parts[1]
	trX, trY, vaY := c.trX, c.trY, c.vaY
	for _, k := range parts[2:] {
		key, val, _ := strings.Cut(k, "=")
		num := func() float64 {
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				log.Fatalf("recipe %q: knob %q", r, k)
			}
			return v
		}
		switch key {
		case "mlp":
			cfg.Head = head.MLP
		case "e":
			cfg.Epochs = int(num())
		case "p":
			cfg.Patience = int(num())
		case "lr":
			cfg.LR = num()
		case "wd":
			cfg.WeightDecay = num()
		case "h":
			cfg.Hidden = int(num())
		case "do":
			cfg.Dropout = num()
		case "pw":
			lc := loss.Defaults(loss.Weighted)
			lc.MaxPosWeight = num()
			cfg.LossConfig = &lc
		case "selrare":
			vaY = make([][]int8, len(c.vaY))
			for i, row := range c.vaY {
				vaY[i] = make([]int8, len(row))
				for j := range row {
					vaY[i][j] = -1
				}
				for _, j := range c.rare {
					vaY[i][j] = row[j]
				}
			}
		case "full":
			if c.fullX == nil {
				return result{}, fmt.Errorf("recipe %q: full needs the miml world", r)
			}
			trX, trY = c.fullX, c.fullY
		case "reseed":
			cfg.Seed += 1000
		default:
			return result{}, fmt.Errorf("recipe %q: unknown knob %q", r, k)
		}
	}
	cc := c
	cc.trX, cc.trY = trX, trY
	h, err := fit(cfg, cc, trX, trY, vaY, dim)
	if err != nil {
		return result{}, err
	}
	return evaluate(h, c), nil
}

func fit(cfg train.Config, c split, trX []float32, trY, vaY [][]int8, dim int) (*head.Params, error) {
	res, err := train.Fit(context.Background(), cfg, trX, trY, c.vaX, vaY, dim, train.Callbacks{})
	if err != nil {
		return nil, err
	}
	return &res.Head, nil
}

func scoresOf(h *head.Params, c split) [][]float32 {
	l, err := h.Forward(c.teX, len(c.teY))
	if err != nil {
		log.Fatal(err)
	}
	s := make([][]float32, len(c.teY))
	for i := range s {
		s[i] = l[i*h.Out : (i+1)*h.Out]
	}
	return s
}

func evaluate(h *head.Params, c split) result {
	m, per, _ := metric.MeanAP(scoresOf(h, c), c.teY)
	r := 0.0
	for _, j := range c.rare {
		r += per[j]
	}
	return result{rare: r / float64(len(c.rare)), mAP: m}
}

func bootstrapSD(h *head.Params, c split, reps int) float64 {
	s := scoresOf(h, c)
	rng := rand.New(rand.NewPCG(c.seed, 0xb00))
	var v []float64
	for k := 0; k < reps; k++ {
		bs, by := make([][]float32, len(s)), make([][]int8, len(s))
		for i := range bs {
			j := rng.IntN(len(s))
			bs[i], by[i] = s[j], c.teY[j]
		}
		_, per, ok := metric.MeanAP(bs, by)
		t, n := 0.0, 0
		for _, j := range c.rare {
			if ok[j] {
				t += per[j]
				n++
			}
		}
		if n > 0 {
			v = append(v, t/float64(n))
		}
	}
	_, sd := meanSD(v)
	return sd
}
