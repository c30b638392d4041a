package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/serve"
)

func newBenchServeCmd(e *env) *cobra.Command {
	var (
		modelPath, imgPath, levels string
		duration                   time.Duration
		maxReq                     int
		ef                         engineFlags
		jsonOut                    bool
		hf                         hostileFlags
	)
	c := &cobra.Command{
		Use:   "serve --model M.mlb --image IMG [--levels 1,8,64] [--duration 5s]",
		Short: "load-test the HTTP service on loopback (throughput, p50/p99, RSS)",
		Args:  noArgs,
	}
	fs := c.Flags()
	fs.StringVar(&modelPath, "model", "", "model bundle (.mlb)")
	fs.StringVar(&imgPath, "image", "", "image to send in every request")
	fs.StringVar(&levels, "levels", "1,8,64", "concurrency levels")
	fs.DurationVar(&duration, "duration", 5*time.Second, "time per level")
	fs.IntVar(&maxReq, "max-requests", 20000, "request cap per level")
	ef.register(fs, false)
	fs.BoolVar(&jsonOut, "json", false, "print results as JSON")
	fs.StringVar(&hf.url, "url", "", "drive a server already running at this /v1/predict URL instead of one in-process (run each under its own taskset to measure fairly)")
	fs.IntVar(&hf.serverPID, "server-pid", 0, "with --url: sample this process's RSS during each level")
	fs.IntVar(&hf.pngBomb, "png-bomb", 0, "with --url: this many extra clients loop an 8,900×8,900 16-bit PNG (616 KB, 634 MB decoded) during each level")
	fs.IntVar(&hf.bombParts, "bomb-parts", 1, "images per bomb request (more than 1: a multipart request)")
	fs.IntVar(&hf.slowBodies, "slow-bodies", 0, "with --url: this many extra connections send a body at 1 byte/s during each level")
	fs.IntVar(&hf.bombSendKB, "bomb-sndbuf-kb", 0, "with --png-bomb: the bomb clients' socket send buffer in KiB (0: the kernel's default, megabytes on loopback, copied per request by the load generator's kernel though the server reads a few KB of it)")
	fs.BoolVar(&hf.hostileOnly, "hostile-only", false, "with --url: send no real traffic, only the --png-bomb / --slow-bodies clients, for --duration per level (a second process beside a real-traffic bench serve, so that the two share no Go scheduler; pin each with taskset)")
	c.RunE = func(c *cobra.Command, args []string) error {
		if hf.url != "" {
			return runBenchServeURL(c.Context(), e, imgPath, levels, duration, maxReq, hf, jsonOut)
		}
		if hf.pngBomb > 0 || hf.slowBodies > 0 || hf.serverPID > 0 || hf.hostileOnly {
			return usageErrorf("--png-bomb, --slow-bodies, --server-pid and --hostile-only need --url")
		}
		return runBenchServe(c.Context(), e, modelPath, imgPath, levels, duration, maxReq, ef, jsonOut)
	}
	return c
}

// runBenchServe starts the service in-process on a loopback port and drives it with a
// closed-loop load generator at several concurrency levels, with and without dynamic
// batching. Every level is bounded in time and request count.
func runBenchServe(ctx context.Context, e *env, modelPath, imgPath, levels string, duration time.Duration, maxReq int, ef engineFlags, jsonOut bool) error {
	if modelPath == "" || imgPath == "" {
		return usageErrorf("--model and --image are required")
	}
	body, err := os.ReadFile(imgPath)
	if err != nil {
		return badInput(err)
	}
	conc, err := parseLevels(levels)
	if err != nil {
		return err
	}
	kind, err := ef.parse()
	if err != nil {
		return err
	}
	m, err := model.LoadWith(modelPath, model.Options{Engine: kind, ORTLib: ef.ortLib})
	if err != nil {
		return badInput(err)
	}
	defer m.Close()
	type row struct {
		Batching bool             `json:"batching"`
		Result   serve.LoadResult `json:"result"`
		RSSMiB   [2]float64       `json:"rss_mib_before_after"`
	}
	var rows []row
	for _, batching := range []bool{false, true} {
		delay := time.Duration(-1)
		if batching {
			delay = 3 * time.Millisecond
		}
		srv, err := serve.New(m, serve.Options{BatchDelay: delay, MaxBatch: 32, QueueSize: 1024, MaxConcurrent: 1024})
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: srv.Handler()}
		go hs.Serve(ln)
		url := "http://" + ln.Addr().String() + "/v1/predict"
		// Warm up the engine's compiled shapes.
		serve.LoadTest(ctx, url, "application/octet-stream", body, 4, 2*time.Second, 16)
		for _, c := range conc {
			before := rssMiB()
			r := serve.LoadTest(ctx, url, "application/octet-stream", body, c, duration, maxReq)
			runtime.GC()
			rows = append(rows, row{Batching: batching, Result: r, RSSMiB: [2]float64{before, rssMiB()}})
		}
		hs.Close()
		srv.Close()
	}
	if jsonOut {
		return json.NewEncoder(e.stdout).Encode(rows)
	}
	fmt.Fprintf(e.stdout, "engine %s, image %s (%d bytes), %s per level\n", m.EngineName(), imgPath, len(body), duration)
	fmt.Fprintf(e.stdout, "%-9s %6s %9s %9s %9s %8s %8s %14s\n", "batching", "conc", "requests", "req/s", "non-2xx", "p50 ms", "p99 ms", "RSS MiB")
	for _, r := range rows {
		fmt.Fprintf(e.stdout, "%-9v %6d %9d %9.1f %9d %8.1f %8.1f %6.0f → %5.0f\n", r.Batching, r.Result.Concurrency, r.Result.Requests,
			r.Result.Throughput, r.Result.Non2xx+r.Result.Errors, float64(r.Result.P50.Microseconds())/1000,
			float64(r.Result.P99.Microseconds())/1000, r.RSSMiB[0], r.RSSMiB[1])
	}
	return nil
}

func parseLevels(levels string) ([]int, error) {
	var conc []int
	for _, f := range strings.Split(levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 || c > 1024 {
			return nil, usageErrorf("--levels: %q is not a concurrency in 1..1024", f)
		}
		conc = append(conc, c)
	}
	return conc, nil
}

// rssMiB reads the resident set size of this process from /proc (0 where unavailable).
func rssMiB() float64 { return procRSSMiB("self") }

// procRSSMiB reads VmRSS of /proc/<proc>/status in MiB (0 where unavailable).
func procRSSMiB(proc string) float64 {
	data, err := os.ReadFile("/proc/" + proc + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
