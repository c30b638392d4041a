package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/multilabel/multilabel/serve"
)

// hostileFlags are bench serve's options for driving an external server, with hostile
// clients beside the real traffic.
type hostileFlags struct {
	url        string
	serverPID  int
	pngBomb    int
	bombParts  int
	slowBodies int
	// bombSendKB is the bomb clients' socket send buffer in KiB (0: the kernel's).
	bombSendKB int
	// hostileOnly runs the hostile clients alone (no real traffic, no warm-up).
	hostileOnly bool
}

type hostileRow struct {
	Real      serve.LoadResult      `json:"real"`
	Bomb      *serve.LoadResult     `json:"bomb,omitempty"`
	Slow      *serve.SlowBodyResult `json:"slow_bodies,omitempty"`
	ServerRSS [2]float64            `json:"server_rss_mib_start_peak"`
	// ServerCPU is the CPU time the server used during the level (user + system), and
	// CPUPerReal that time per real request answered 2xx: unlike req/s, it does not
	// depend on how much CPU others on the machine left the server.
	ServerCPU  time.Duration `json:"server_cpu_ns"`
	CPUPerReal time.Duration `json:"server_cpu_per_real_request_ns"`
}

// runBenchServeURL drives the server at hf.url: per concurrency level, the real image in
// a closed loop, and meanwhile hf.pngBomb clients looping the PNG bomb and hf.slowBodies
// connections trickling bodies (with hf.hostileOnly, those alone: the real traffic then
// comes from another process); it samples the server's RSS when told its pid.
func runBenchServeURL(ctx context.Context, e *env, imgPath, levels string, duration time.Duration, maxReq int, hf hostileFlags, jsonOut bool) error {
	if imgPath == "" && !hf.hostileOnly {
		return usageErrorf("--image is required")
	}
	u, err := url.Parse(hf.url)
	if err != nil || u.Host == "" || (u.Scheme != "http") {
		return usageErrorf("--url %q: want http://HOST:PORT/v1/predict", hf.url)
	}
	if hf.pngBomb < 0 || hf.slowBodies < 0 || hf.bombParts < 1 || hf.bombParts > 1024 {
		return usageErrorf("--png-bomb, --slow-bodies must be ≥ 0 and --bomb-parts in 1..1024")
	}
	if hf.bombSendKB < 0 || hf.bombSendKB > 1<<20 {
		return usageErrorf("--bomb-sndbuf-kb %d: want 0 (the kernel's default) to %d", hf.bombSendKB, 1<<20)
	}
	if hf.hostileOnly && hf.pngBomb == 0 && hf.slowBodies == 0 {
		return usageErrorf("--hostile-only needs --png-bomb or --slow-bodies")
	}
	var body []byte
	if imgPath != "" {
		if body, err = os.ReadFile(imgPath); err != nil {
			return badInput(err)
		}
	}
	conc, err := parseLevels(levels)
	if err != nil {
		return err
	}
	var bombCT string
	var bombBody []byte
	if hf.pngBomb > 0 {
		png, err := serve.PNGBomb(8900, 8900)
		if err != nil {
			return err
		}
		bombCT, bombBody = "image/png", png
		if hf.bombParts > 1 {
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			for i := range hf.bombParts {
				w, _ := mw.CreateFormFile("image", fmt.Sprintf("bomb%d.png", i))
				w.Write(png)
			}
			mw.Close()
			bombCT, bombBody = mw.FormDataContentType(), b.Bytes()
		}
	}
	if !hf.hostileOnly {
		// Warm up the engine's compiled shapes.
		serve.LoadTest(ctx, hf.url, "application/octet-stream", body, 4, 2*time.Second, 16)
	}
	var rows []hostileRow
	for _, c := range conc {
		var row hostileRow
		row.ServerRSS[0] = pidRSSMiB(hf.serverPID)
		cpu0 := pidCPU(hf.serverPID)
		lctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		peak := row.ServerRSS[0]
		var peakMu sync.Mutex
		if hf.serverPID > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := time.NewTicker(50 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-lctx.Done():
						return
					case <-t.C:
						r := pidRSSMiB(hf.serverPID)
						peakMu.Lock()
						peak = max(peak, r)
						peakMu.Unlock()
					}
				}
			}()
		}
		if hf.pngBomb > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := serve.LoadTestSendBuffer(lctx, hf.url, bombCT, bombBody, hf.pngBomb, duration+time.Hour, 0, hf.bombSendKB<<10)
				row.Bomb = &r
			}()
		}
		if hf.slowBodies > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := serve.SlowBodies(lctx, u.Host, hf.slowBodies, time.Second)
				row.Slow = &r
			}()
			time.Sleep(time.Second) // let them connect and start trickling
		}
		if hf.hostileOnly {
			select {
			case <-ctx.Done():
			case <-time.After(duration):
			}
			row.Real.Concurrency = c
		} else {
			row.Real = serve.LoadTest(ctx, hf.url, "application/octet-stream", body, c, duration, maxReq)
		}
		row.ServerCPU = pidCPU(hf.serverPID) - cpu0
		if ok := row.Real.Requests - row.Real.Non2xx; ok > 0 {
			row.CPUPerReal = row.ServerCPU / time.Duration(ok)
		}
		cancel()
		wg.Wait()
		row.ServerRSS[1] = peak
		rows = append(rows, row)
	}
	if jsonOut {
		return json.NewEncoder(e.stdout).Encode(rows)
	}
	fmt.Fprintf(e.stdout, "server %s, image %s (%d bytes), %s per level, %d PNG-bomb clients (%d parts), %d slow bodies\n",
		hf.url, imgPath, len(body), duration, hf.pngBomb, hf.bombParts, hf.slowBodies)
	fmt.Fprintf(e.stdout, "%6s %9s %9s %9s %8s %8s %16s %8s %12s  %s\n", "conc", "requests", "req/s", "non-2xx", "p50 ms", "p99 ms", "server RSS MiB", "CPU s", "CPU ms/real", "hostile")
	for _, r := range rows {
		hostile := ""
		if r.Bomb != nil {
			hostile += fmt.Sprintf("bombs: %d requests %v, %d transport errors; ", r.Bomb.Requests, r.Bomb.Codes, r.Bomb.Errors)
		}
		if r.Slow != nil {
			hostile += fmt.Sprintf("slow: %d conns, %d bytes, replies %v, %d closed", r.Slow.Connections, r.Slow.BytesSent, r.Slow.Codes, r.Slow.Closed)
		}
		fmt.Fprintf(e.stdout, "%6d %9d %9.1f %9d %8.1f %8.1f %6.0f → %6.0f %8.2f %12.2f  %s\n", r.Real.Concurrency, r.Real.Requests,
			r.Real.Throughput, r.Real.Non2xx+r.Real.Errors, float64(r.Real.P50.Microseconds())/1000,
			float64(r.Real.P99.Microseconds())/1000, r.ServerRSS[0], r.ServerRSS[1], r.ServerCPU.Seconds(),
			float64(r.CPUPerReal.Microseconds())/1000, hostile)
	}
	return nil
}

// pidCPU reads process pid's user + system CPU time from /proc (0 where unavailable).
func pidCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces, hence the last ')'):
	// state is field 3, utime 14 and stime 15, in clock ticks of 1/100 s on Linux.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// pidRSSMiB reads process pid's resident set size from /proc (0 where unavailable or
// pid ≤ 0).
func pidRSSMiB(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	return procRSSMiB(strconv.Itoa(pid))
}
