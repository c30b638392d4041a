//go:build ignore

// Command audit_miml measures the label audit on MIML with a seeded share of its label
// entries flipped (0↔1).
//
//	go run scripts/audit_miml.go -flip 0.05 -seed 1 -out /tmp/flipped.csv   # writes the noisy labels and /tmp/flipped.csv.flips
//	multilabel dataset audit --data /tmp/flipped.csv --images ../shared/data/miml-scenes/images --allow-outside \
//	    --backbone ../shared/models/squeezenet1.1/squeezenet1.1-fp16.onnx --json > /tmp/audit.json
//	go run scripts/audit_miml.go -check /tmp/audit.json -out /tmp/flipped.csv
//
// -check prints the share of the flipped entries found in the audit's top k (k = number
// of flipped entries) over both kinds, and per kind.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/multilabel/multilabel/dataset"
)

func main() {
	data := flag.String("data", "../shared/data/miml-scenes/labels_onehot.csv", "clean labels")
	flip := flag.Float64("flip", 0.05, "share of the label entries flipped")
	seed := flag.Uint64("seed", 1, "seed of the flips")
	out := flag.String("out", "/tmp/miml_flipped.csv", "noisy label file (its flips go to OUT.flips)")
	check := flag.String("check", "", "audit JSON to score (multilabel dataset audit --json)")
	flag.Parse()
	if *check != "" {
		score(*check, *out+".flips")
		return
	}
	d, err := dataset.Load(*data, dataset.Options{})
	if err != nil {
		log.Fatal(err)
	}
	n, c := len(d.Samples), len(d.Labels)
	k := int(float64(n*c)**flip + 0.5)
	rng := rand.New(rand.NewPCG(*seed, 0xf11b))
	var flips []string
	for _, e := range rng.Perm(n * c)[:k] {
		i, j := e/c, e%c
		s := &d.Samples[i]
		s.Truth[j] = 1 - s.Truth[j]
		flips = append(flips, s.Image+","+d.Labels[j])
	}
	for i := range d.Samples { // absolute paths: the noisy file may live anywhere
		abs, _ := filepath.Abs(d.Samples[i].Path)
		d.Samples[i].Image = abs
	}
	if err := dataset.WriteCSV(*out, d); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out+".flips", []byte(strings.Join(flips, "\n")+"\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("flipped %d of %d label entries (%.1f%%) -> %s\n", k, n*c, 100**flip, *out)
}

func score(auditJSON, flipsFile string) {
	raw, err := os.ReadFile(flipsFile)
	if err != nil {
		log.Fatal(err)
	}
	flipped := map[string]bool{}
	for _, l := range strings.Fields(string(raw)) {
		flipped[filepath.Base(strings.SplitN(l, ",", 2)[0])+","+strings.SplitN(l, ",", 2)[1]] = true
	}
	var r struct {
		Missing, Wrong []struct {
			Image, Label string
			Overall      int `json:"overall_rank"`
		}
	}
	raw, err = os.ReadFile(auditJSON)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		log.Fatal(err)
	}
	k := len(flipped)
	hits, hm, hw, km, kw := 0, 0, 0, 0, 0
	for _, list := range []struct {
		kind string
		es   []struct {
			Image, Label string
			Overall      int `json:"overall_rank"`
		}
	}{{"missing", r.Missing}, {"wrong", r.Wrong}} {
		for _, e := range list.es {
			key := filepath.Base(e.Image) + "," + e.Label
			if !flipped[key] || e.Overall > k {
				continue
			}
			hits++
			if list.kind == "missing" {
				hm++
			} else {
				hw++
			}
		}
		for _, e := range list.es {
			if flipped[filepath.Base(e.Image)+","+e.Label] {
				if list.kind == "missing" {
					km++
				} else {
					kw++
				}
			}
		}
	}
	fmt.Printf("flipped entries: %d (%d now absent, %d now present); top-%d holds %d = %.1f%% (absent %d, present %d)\n",
		k, km, kw, k, hits, 100*float64(hits)/float64(k), hm, hw)
}
