package serve

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
)

// LoadResult summarises one closed-loop load run.
type LoadResult struct {
	Concurrency int           `json:"concurrency"`
	Requests    int           `json:"requests"`
	Non2xx      int           `json:"non_2xx"`
	Errors      int           `json:"transport_errors"`
	Duration    time.Duration `json:"duration_ns"`
	Throughput  float64       `json:"requests_per_s"`
	P50         time.Duration `json:"p50_ns"`
	P99         time.Duration `json:"p99_ns"`
	// Codes counts the replies by status code.
	Codes map[int]int `json:"codes"`
}

// LoadTest drives url with `concurrency` clients, each sending body in a loop, until
// duration has passed or maxRequests have been sent (whichever is first; 0 = no cap).
// It is meant for loopback targets: bounded in time and count, it stops by itself.
func LoadTest(ctx context.Context, url, contentType string, body []byte, concurrency int, duration time.Duration, maxRequests int) LoadResult {
	return LoadTestSendBuffer(ctx, url, contentType, body, concurrency, duration, maxRequests, 0)
}

// LoadTestSendBuffer is LoadTest with the clients' socket send buffer set to sendBuffer
// bytes (SO_SNDBUF; ≤ 0: the kernel's default, which on loopback grows to megabytes).
// For hostile clients whose large bodies the server refuses from their first bytes:
// with the default, the load generator's kernel copies megabytes per request into a
// buffer the server never reads, CPU that a shared machine then takes from the server;
// the server sees the same bytes either way.
func LoadTestSendBuffer(ctx context.Context, url, contentType string, body []byte, concurrency int, duration time.Duration, maxRequests, sendBuffer int) LoadResult {
	if concurrency < 1 {
		concurrency = 1
	}
	tr := &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency}
	if sendBuffer > 0 {
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetWriteBuffer(sendBuffer)
			}
			return c, nil
		}
	}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()

	var mu sync.Mutex
	var lat []time.Duration
	res := LoadResult{Concurrency: concurrency, Codes: map[int]int{}}
	sent := 0
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if maxRequests > 0 && sent >= maxRequests {
			return false
		}
		sent++
		return true
	}
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < concurrency; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && take() {
				req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
				req.Header.Set("Content-Type", contentType)
				t0 := time.Now()
				resp, err := client.Do(req)
				d := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						return // the run's time is up; not the server's fault
					}
					mu.Lock()
					res.Errors++
					mu.Unlock()
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				res.Requests++
				res.Codes[resp.StatusCode]++
				lat = append(lat, d)
				if resp.StatusCode < 200 || resp.StatusCode > 299 {
					res.Non2xx++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Duration = time.Since(start)
	if res.Duration > 0 {
		res.Throughput = float64(res.Requests) / res.Duration.Seconds()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.P50 = quantile(lat, 0.50)
	res.P99 = quantile(lat, 0.99)
	return res
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)-1) + 0.5)
	return sorted[i]
}
