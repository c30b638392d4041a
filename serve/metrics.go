package serve

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// metrics holds the counters and histograms exposed at GET /metrics in the Prometheus
// text exposition format (version 0.0.4), written by hand to stay dependency-free.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64 // (route, code) → count
	latency  map[string]*histogram
	batches  *histogram
	errors   map[string]uint64
	reloads  atomic.Uint64
}

var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
var batchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128}

type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative; last is +Inf
	sum    float64
	n      uint64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v)
	h.counts[i]++
	h.sum += v
	h.n++
}

func (h *histogram) write(w http.ResponseWriter, name, labels string) {
	sep := ""
	if labels != "" {
		sep = ","
	}
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{%s%sle=\"%s\"} %d\n", name, labels, sep, strconv.FormatFloat(b, 'g', -1, 64), cum)
	}
	cum += h.counts[len(h.bounds)]
	fmt.Fprintf(w, "%s_bucket{%s%sle=\"+Inf\"} %d\n", name, labels, sep, cum)
	if labels != "" {
		labels = "{" + labels + "}"
	}
	fmt.Fprintf(w, "%s_sum%s %g\n%s_count%s %d\n", name, labels, h.sum, name, labels, h.n)
}

func newMetrics() *metrics {
	return &metrics{requests: map[[2]string]uint64{}, latency: map[string]*histogram{},
		batches: newHistogram(batchBuckets), errors: map[string]uint64{}}
}

func (m *metrics) request(route string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{route, strconv.Itoa(code)}]++
	h := m.latency[route]
	if h == nil {
		h = newHistogram(latencyBuckets)
		m.latency[route] = h
	}
	h.observe(d.Seconds())
}

func (m *metrics) batch(n int) {
	m.mu.Lock()
	m.batches.observe(float64(n))
	m.mu.Unlock()
}

func (m *metrics) errorKind(kind string) {
	m.mu.Lock()
	m.errors[kind]++
	m.mu.Unlock()
}

func (m *metrics) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP multilabel_http_requests_total HTTP requests by route and status code.")
	fmt.Fprintln(w, "# TYPE multilabel_http_requests_total counter")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		fmt.Fprintf(w, "multilabel_http_requests_total{route=%q,code=%q} %d\n", k[0], k[1], m.requests[k])
	}
	fmt.Fprintln(w, "# HELP multilabel_http_request_duration_seconds Request latency by route.")
	fmt.Fprintln(w, "# TYPE multilabel_http_request_duration_seconds histogram")
	routes := make([]string, 0, len(m.latency))
	for r := range m.latency {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		m.latency[r].write(w, "multilabel_http_request_duration_seconds", fmt.Sprintf("route=%q", r))
	}
	fmt.Fprintln(w, "# HELP multilabel_batch_size Images per engine batch.")
	fmt.Fprintln(w, "# TYPE multilabel_batch_size histogram")
	m.batches.write(w, "multilabel_batch_size", "")
	fmt.Fprintln(w, "# HELP multilabel_errors_total Refused or failed requests by kind.")
	fmt.Fprintln(w, "# TYPE multilabel_errors_total counter")
	kinds := make([]string, 0, len(m.errors))
	for k := range m.errors {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "multilabel_errors_total{kind=%q} %d\n", k, m.errors[k])
	}
	fmt.Fprintln(w, "# HELP multilabel_model_reloads_total Successful model reloads.")
	fmt.Fprintln(w, "# TYPE multilabel_model_reloads_total counter")
	fmt.Fprintf(w, "multilabel_model_reloads_total %d\n", m.reloads.Load())
}
