//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multilabel/multilabel/internal/fakes3"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/objstore"
)

// TestScaleMeasure measures the scale targets of issue 16 on MIML with SqueezeNet 1.1 on
// ONNX Runtime: `features` end to end (listing, staging, decoding, inference, writing)
// as 1 worker process pinned to core 0 and as 2 worker processes (--shard 0/2 and 1/2)
// pinned to cores 0 and 1, each with one engine thread and one decoding goroutine, over
// four sources: a folder of JPEGs, WebDataset tar shards in a folder, and both in the
// S3 server of internal/fakes3 (in this test process, unpinned). Rounds interleave the
// configurations; it prints images/s per run, the median, the 2-worker scaling
// efficiency (rate2 / (2 rate1)) and the source ratios. Skipped unless
// MULTILABEL_SCALE_MEASURE=1; MULTILABEL_SCALE_IMAGES (default 600) images,
// MULTILABEL_SCALE_ROUNDS (default 3) rounds. Run:
//
//	MULTILABEL_SCALE_MEASURE=1 go test ./cmd/multilabel -run TestScaleMeasure -v -timeout 60m
func TestScaleMeasure(t *testing.T) {
	if os.Getenv("MULTILABEL_SCALE_MEASURE") == "" {
		t.Skip("set MULTILABEL_SCALE_MEASURE=1 to measure (minutes)")
	}
	miml := sharedtest.Dir(t, "data/miml-scenes")
	bb := filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	sharedtest.ORTLib(t)
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("taskset not found")
	}
	nimg, rounds := envInt("MULTILABEL_SCALE_IMAGES", 600), envInt("MULTILABEL_SCALE_ROUNDS", 3)
	ctx := context.Background()
	dir := t.TempDir()
	raw, err := os.ReadFile(filepath.Join(miml, "labels_list.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(raw), "\n")
	if nimg+1 > len(lines) {
		nimg = len(lines) - 1
	}
	labels := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(labels, []byte(strings.Join(lines[:nimg+1], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	images := filepath.Join(miml, "images")
	if code, o := runCLI(t, "dataset", "pack", "--data", labels, "--images", images, "--out", filepath.Join(dir, "t-%03d.tar"), "--shard-size", "4MB"); code != exitOK {
		t.Fatalf("pack: %d %s", code, o)
	}
	srv := fakes3.Start(t, "data")
	st := objstore.New(objstore.Options{})
	defer st.Close()
	put := func(local, key string) {
		b, err := os.ReadFile(local)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Write(ctx, srv.URL("data", key), b); err != nil {
			t.Fatal(err)
		}
	}
	put(labels, "set/labels.csv")
	for _, l := range lines[1 : nimg+1] {
		name, _, _ := strings.Cut(l, ",")
		put(filepath.Join(images, name), "set/images/"+name)
	}
	tars, _ := filepath.Glob(filepath.Join(dir, "t-*.tar"))
	for _, f := range tars {
		put(f, "tars/"+filepath.Base(f))
	}
	t.Logf("%d images, %d tar shards; %s", nimg, len(tars), loadavg())
	sources := []struct {
		name string
		args []string
	}{
		{"folder", []string{"--data", labels, "--images", images}},
		{"tar", []string{"--data", filepath.Join(dir, "t-*.tar")}},
		{"s3-folder", []string{"--data", srv.URL("data", "set/labels.csv"), "--images", srv.URL("data", "set/images/")}},
		{"s3-tar", []string{"--data", srv.URL("data", "tars/t-*.tar")}},
	}
	common := []string{"features", "--backbone", bb, "--engine", "ort", "--threads", "1", "--workers", "1", "--no-cache"}
	rate := map[string][]float64{}
	perCPU := map[string][]float64{} // images per CPU-second of the workers
	serverCPU := map[string][]float64{}
	run := 0
	for r := range rounds {
		for _, src := range sources {
			for _, workers := range []int{1, 2} {
				run++
				out := filepath.Join(dir, fmt.Sprintf("run%d", run), "f.npy")
				start := time.Now()
				self0 := selfCPU()
				var cmds []*exec.Cmd
				for i := range workers {
					args := append(append(append([]string{"-c", strconv.Itoa(i), os.Args[0]}, common...), src.args...), "--out", out)
					if workers > 1 {
						args = append(args, "--shard", fmt.Sprintf("%d/%d", i, workers))
					}
					c := exec.Command("taskset", args...)
					c.Env = append(os.Environ(), asCLI+"=1")
					var b strings.Builder
					c.Stdout, c.Stderr = &b, &b
					if err := c.Start(); err != nil {
						t.Fatal(err)
					}
					cmds = append(cmds, c)
					defer func() {
						if t.Failed() {
							t.Logf("%s output: %s", src.name, b.String())
						}
					}()
				}
				var cpu time.Duration
				for _, c := range cmds {
					if err := c.Wait(); err != nil {
						t.Fatalf("%s, %d workers: %v", src.name, workers, err)
					}
					cpu += c.ProcessState.UserTime() + c.ProcessState.SystemTime()
				}
				s := float64(nimg) / time.Since(start).Seconds()
				key := fmt.Sprintf("%s/%d", src.name, workers)
				rate[key] = append(rate[key], s)
				perCPU[key] = append(perCPU[key], float64(nimg)/cpu.Seconds())
				server := (selfCPU() - self0).Seconds()
				serverCPU[key] = append(serverCPU[key], server)
				t.Logf("round %d %-9s %d worker(s): %6.1f images/s, %6.1f images per worker CPU-s, test process (S3 server) %.2f CPU-s  (%s)",
					r+1, src.name, workers, s, perCPU[key][len(perCPU[key])-1], server, loadavg())
				os.RemoveAll(filepath.Dir(out))
			}
		}
	}
	for _, src := range sources {
		for _, w := range []string{"/1", "/2"} {
			t.Logf("%-9s %s worker(s): median %.1f images per worker CPU-s (runs %s), test process %.2f CPU-s",
				src.name, w[1:], median(perCPU[src.name+w]), fmtAll(perCPU[src.name+w]), median(serverCPU[src.name+w]))
		}
	}
	for _, src := range sources {
		var rs []string
		for i := range perCPU[src.name+"/1"] {
			rs = append(rs, fmt.Sprintf("%.2f", perCPU[src.name+"/2"][i]/perCPU[src.name+"/1"][i]))
		}
		t.Logf("%-9s CPU cost ratio 1 worker / 2 workers (1 = no overhead from splitting), per round: %s", src.name, strings.Join(rs, " "))
	}
	for _, p := range [][2]string{{"s3-folder", "folder"}, {"s3-tar", "tar"}, {"tar", "folder"}} {
		var rs []string
		for i := range perCPU[p[0]+"/1"] {
			rs = append(rs, fmt.Sprintf("%.2f", perCPU[p[0]+"/1"][i]/perCPU[p[1]+"/1"][i]))
		}
		t.Logf("%s vs %s, images per worker CPU-s, 1 worker, per round: %s", p[0], p[1], strings.Join(rs, " "))
	}
	medRate := func(k string) float64 { return median(rate[k]) }
	for _, src := range sources {
		k1, k2 := src.name+"/1", src.name+"/2"
		var eff []string
		for i := range rate[k1] {
			eff = append(eff, fmt.Sprintf("%.2f", rate[k2][i]/(2*rate[k1][i])))
		}
		t.Logf("%-9s 1 worker median %6.1f images/s, 2 workers %6.1f; efficiency per round %s (median of rates %.2f)",
			src.name, medRate(k1), medRate(k2), strings.Join(eff, " "), medRate(k2)/(2*medRate(k1)))
	}
	for _, p := range [][2]string{{"s3-folder", "folder"}, {"s3-tar", "tar"}, {"tar", "folder"}, {"s3-tar", "s3-folder"}} {
		for _, w := range []string{"/1", "/2"} {
			var rs []string
			for i := range rate[p[0]+w] {
				rs = append(rs, fmt.Sprintf("%.2f", rate[p[0]+w][i]/rate[p[1]+w][i]))
			}
			t.Logf("%s vs %s, %s worker(s): ratio per round %s", p[0], p[1], w[1:], strings.Join(rs, " "))
		}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load ?"
	}
	f := strings.Fields(string(b))
	return "load " + strings.Join(f[:3], " ")
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}

func fmtAll(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprintf("%.1f", x))
	}
	return strings.Join(s, " ")
}

// selfCPU is this process's CPU time so far (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
