package serve

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics holds the collectors exposed at GET /metrics. Each Server has its own
// prometheus.Registry (never the global default one), so several servers in one process
// — or in one test binary — do not collide, and an embedding program decides itself
// whether to merge them into its own registry (see Server.Registry).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec   // route, code
	latency  *prometheus.HistogramVec // route
	batches  prometheus.Histogram
	errors   *prometheus.CounterVec // kind
	reloads  prometheus.Counter
	// refuseHeld is the requests held by the refusal delay now; refuseFull counts those
	// refused at once because the delay already held its maximum.
	refuseHeld prometheus.Gauge
	refuseFull prometheus.Counter
	handler    http.Handler
}

var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
var batchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "multilabel_http_requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "multilabel_http_request_duration_seconds",
			Help:    "Request latency by route.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		batches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "multilabel_batch_size",
			Help:    "Images per engine batch.",
			Buckets: batchBuckets,
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "multilabel_errors_total",
			Help: "Refused or failed requests by kind.",
		}, []string{"kind"}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "multilabel_model_reloads_total",
			Help: "Successful model reloads.",
		}),
		refuseHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "multilabel_refusals_held",
			Help: "Refused (413) requests held by the refusal delay before their answer.",
		}),
		refuseFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "multilabel_refusals_undelayed_total",
			Help: "Refused (413) requests answered at once because the refusal delay held its maximum.",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.batches, m.errors, m.reloads, m.refuseHeld, m.refuseFull,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	return m
}

func (m *metrics) request(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) batch(n int) { m.batches.Observe(float64(n)) }

func (m *metrics) errorKind(kind string) { m.errors.WithLabelValues(kind).Inc() }

func (m *metrics) serve(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }
