//go:build ignore

// Command finetune_miml measures whole-network (and last-blocks) fine-tuning recipes
// on MIML scenes: for each recipe × seed it runs `multilabel train --unfreeze ... --json`
// on the project's default seeded 70/10/20 split (the CLI's), one run at a time, and
// records the test mAP (thresholds tuned on validation; with --refit both the selected
// and the refit model's), the validation mAP, the best fine-tuning epoch, the run's
// wall time, its peak RSS (the child's rusage) and the load average before and after.
// Each run appends one JSON line to -log; the markdown table (-out, written to a temp
// file and renamed) is rebuilt from the whole log, so an interrupted study keeps what
// it measured and a later invocation adds to it.
//
// A recipe is NAME=FLAGS: the flags are passed to `train` after the common ones
// (--data, --images, --backbone, --backend, --seed, --json), e.g.
//
//	go build -o /tmp/multilabel ./cmd/multilabel
//	go run scripts/finetune_miml.go -bin /tmp/multilabel -seeds 1 \
//	    -recipe 'default=--unfreeze all' \
//	    -recipe 'aug6=--unfreeze all --augment --ft-epochs 6'
//
// Only wall seconds measured in one study (same machine, similar load) compare; the
// load average is in each row for that reason.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// notesMarker starts the hand-written notes of the markdown table's file, which a
// rebuild keeps.
const notesMarker = "<!-- notes: kept when the table is rebuilt -->"

type recipes []string

func (r *recipes) String() string     { return strings.Join(*r, "; ") }
func (r *recipes) Set(v string) error { *r = append(*r, v); return nil }

// row is one run's record (one line of the log).
type row struct {
	Recipe      string  `json:"recipe"`
	Flags       string  `json:"flags"`
	Seed        int     `json:"seed"`
	TestMAP     float64 `json:"test_map"`
	SelectedMAP float64 `json:"selected_test_map,omitempty"` // with --refit
	ProbeMAP    float64 `json:"probe_test_map"`
	ValMAP      float64 `json:"val_map"`
	BestEpoch   int     `json:"best_epoch"`
	Epochs      int     `json:"epochs"`
	Head        string  `json:"head"`
	WallS       float64 `json:"wall_s"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
	CPUS        float64 `json:"cpu_s,omitempty"` // user + system seconds of the run
	// ValHistory is the validation mAP after each fine-tuning epoch (index 0: the start).
	ValHistory []float64 `json:"val_history,omitempty"`
	LoadBefore string    `json:"load_before"`
	LoadAfter  string    `json:"load_after"`
	Error      string    `json:"error,omitempty"`
	When       string    `json:"when"`
}

func main() {
	bin := flag.String("bin", "/tmp/multilabel", "multilabel binary")
	data := flag.String("data", "../shared/data/miml-scenes/labels_onehot.csv", "MIML labels")
	images := flag.String("images", "../shared/data/miml-scenes/images", "MIML images")
	bb := flag.String("backbone", "../shared/models/squeezenet1.1/squeezenet1.1-fp16.onnx", "backbone")
	backend := flag.String("backend", "onnx", "training backend")
	seedList := flag.String("seeds", "1", "comma-separated seeds")
	logPath := flag.String("log", "scripts/results/finetune_miml.jsonl", "JSON lines log (appended)")
	out := flag.String("out", "scripts/results/finetune_miml_runs.md", "markdown table rebuilt from the log")
	var rs recipes
	flag.Var(&rs, "recipe", "NAME=FLAGS (repeatable)")
	flag.Parse()

	var seeds []int
	for _, s := range strings.Split(*seedList, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			log.Fatalf("-seeds: %q: %v", s, err)
		}
		seeds = append(seeds, v)
	}
	for _, r := range rs {
		name, flags, ok := strings.Cut(r, "=")
		if !ok || name == "" {
			log.Fatalf("-recipe %q: want NAME=FLAGS", r)
		}
		for _, seed := range seeds {
			rw := runOne(*bin, *data, *images, *bb, *backend, name, flags, seed)
			if err := appendLog(*logPath, rw); err != nil {
				log.Fatal(err)
			}
			log.Printf("%s seed %d: test mAP %.4f (selected %.4f, probe %.4f), wall %.0fs, peak RSS %.0f MiB, load %s → %s %s",
				rw.Recipe, rw.Seed, rw.TestMAP, rw.SelectedMAP, rw.ProbeMAP, rw.WallS, rw.PeakRSSMB, rw.LoadBefore, rw.LoadAfter, rw.Error)
			if err := writeTable(*logPath, *out); err != nil {
				log.Fatal(err)
			}
		}
	}
	if err := writeTable(*logPath, *out); err != nil {
		log.Fatal(err)
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func runOne(bin, data, images, bb, backend, name, flags string, seed int) row {
	rw := row{Recipe: name, Flags: flags, Seed: seed, LoadBefore: loadavg(), When: time.Now().UTC().Format(time.RFC3339)}
	args := []string{"train", "--data", data, "--images", images, "--backbone", bb, "--backend", backend,
		"--seed", strconv.Itoa(seed), "--json"}
	args = append(args, strings.Fields(flags)...)
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	err := cmd.Run()
	rw.WallS = time.Since(t0).Seconds()
	rw.LoadAfter = loadavg()
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			rw.PeakRSSMB = float64(ru.Maxrss) / 1024 // Linux: KiB
			rw.CPUS = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
	}
	if err != nil {
		tail := stderr.String()
		if len(tail) > 400 {
			tail = tail[len(tail)-400:]
		}
		rw.Error = fmt.Sprintf("%v: %s", err, strings.TrimSpace(tail))
		return rw
	}
	var m struct {
		Head string `json:"head"`
		Val  *struct {
			MAP float64
		} `json:"val"`
		Test *struct {
			MAP float64
		} `json:"test"`
		ProbeTest *struct {
			MAP float64
		} `json:"probe_test"`
		FineTune *struct {
			BestEpoch int `json:"best_epoch"`
			History   []struct {
				ValMAP float64 `json:"val_map"`
			} `json:"history"`
		} `json:"fine_tune"`
		Refit *struct {
			SelectedTest *struct {
				MAP float64
			} `json:"selected_test"`
		} `json:"refit"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		rw.Error = fmt.Sprintf("output is not JSON: %v", err)
		return rw
	}
	rw.Head = m.Head
	if m.Val != nil {
		rw.ValMAP = m.Val.MAP
	}
	if m.Test != nil {
		rw.TestMAP = m.Test.MAP
	}
	if m.ProbeTest != nil {
		rw.ProbeMAP = m.ProbeTest.MAP
	}
	if m.FineTune != nil {
		rw.BestEpoch, rw.Epochs = m.FineTune.BestEpoch, len(m.FineTune.History)-1
		for _, h := range m.FineTune.History {
			rw.ValHistory = append(rw.ValHistory, h.ValMAP)
		}
	}
	if m.Refit != nil && m.Refit.SelectedTest != nil {
		rw.SelectedMAP = m.Refit.SelectedTest.MAP
	}
	return rw
}

func appendLog(path string, rw row) error {
	b, err := json.Marshal(rw)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeTable(logPath, out string) error {
	b, err := os.ReadFile(logPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString("# MIML fine-tuning runs (scripts/finetune_miml.go)\n\n")
	sb.WriteString("SqueezeNet 1.1 fp16, default seeded 70/10/20 split (1,050 / 150 / 300), ONNX Runtime training backend, 2 shared CPU cores. ")
	sb.WriteString("Test mAP at thresholds tuned on validation; `sel.` is the selected model's test mAP in a `--refit` run; ")
	sb.WriteString("wall = the whole `train` command (features cached after the first run), CPU s = its user + system seconds (on this oversubscribed machine the better measure of cost: a quiet 2-core machine runs it in about CPU s / 2); load = 1-minute load average before/after.\n\n")
	sb.WriteString("| recipe | flags | seed | test mAP | sel. | probe | val mAP | best ep / ep | val mAP by epoch | head | wall s | CPU s | peak RSS MiB | load | note |\n")
	sb.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var r row
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("%s:%d: %w", logPath, i+1, err)
		}
		sel := ""
		if r.SelectedMAP > 0 {
			sel = fmt.Sprintf("%.4f", r.SelectedMAP)
		}
		note := r.Error
		if len(note) > 80 {
			note = note[:80] + "…"
		}
		cpu := "?"
		if r.CPUS > 0 {
			cpu = fmt.Sprintf("%.0f", r.CPUS)
		}
		hist := make([]string, len(r.ValHistory))
		for i, v := range r.ValHistory {
			hist[i] = fmt.Sprintf("%.3f", v)
		}
		fmt.Fprintf(&sb, "| %s | `%s` | %d | %.4f | %s | %.4f | %.4f | %d / %d | %s | %s | %.0f | %s | %.0f | %s → %s | %s |\n",
			r.Recipe, r.Flags, r.Seed, r.TestMAP, sel, r.ProbeMAP, r.ValMAP, r.BestEpoch, r.Epochs, strings.Join(hist, " "), r.Head, r.WallS, cpu, r.PeakRSSMB,
			strings.Fields(r.LoadBefore + " ?")[0], strings.Fields(r.LoadAfter + " ?")[0], strings.ReplaceAll(note, "|", "/"))
	}
	// Hand-written notes below the marker line of the existing file are kept.
	if old, err := os.ReadFile(out); err == nil {
		if i := bytes.Index(old, []byte(notesMarker)); i >= 0 {
			sb.WriteString("\n")
			sb.Write(old[i:])
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".finetune_miml-*.md")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(sb.String()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), out)
}
