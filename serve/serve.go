// Package serve is the HTTP prediction service: a JSON API over a multi-label model with
// dynamic batching, bounded queues, request limits, bearer-token auth, Prometheus metrics,
// hot reload and a small self-contained web page. The same http.Handler that
// `multilabel serve` runs can be mounted in any Go service.
//
// Routes:
//
//	POST /v1/predict   image body (JPEG/PNG/GIF/BMP/WebP) or multipart/form-data with one or
//	                   more image parts; query top_k (the K best labels whatever their
//	                   thresholds, as predict --top-k), threshold, decision, explain=1
//	                   (per predicted label, its activation map as a base64 PNG; see
//	                   Explainer and MaxExplainLabels). → JSON predictions.
//	GET  /v1/model     labels, thresholds, metrics, preprocessing, sha256.
//	POST /v1/reload    reload the model (token required when one is set).
//	GET  /healthz      the process is up.
//	GET  /readyz       a model is loaded and the queue has room.
//	GET  /metrics      Prometheus metrics (github.com/prometheus/client_golang).
//	GET  /             a page to drop an image and see its labels (and their maps when
//	                   the model draws them).
//
// Metrics: each Server has its own Prometheus registry (Server.Registry; never the global
// default one), with the Go runtime (go_*) and process (process_*) collectors and
//
//	multilabel_http_requests_total{route,code}          counter
//	multilabel_http_request_duration_seconds{route}     histogram
//	multilabel_batch_size                               histogram, images per engine batch
//	multilabel_errors_total{kind}                       counter, refused or failed requests
//	multilabel_model_reloads_total                      counter, successful reloads
//
// The names are those of the earlier hand-written exporter; client_golang writes label
// names in sorted order (code before route), which scrapers ignore.
//
// Every client mistake gets a 4xx JSON error {"error": ..., "kind": ...}; the server
// never fetches URLs on a client's behalf.
package serve

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/prediction"
)

// Predictor is what the server needs from a model; *model.Model implements it.
// Implementations must be safe for concurrent use; the server batches calls itself.
type Predictor interface {
	// Labels is the label vocabulary; Predict's rows are indexed like it.
	Labels() []string
	// Thresholds are the per-label decision thresholds the model carries.
	Thresholds() []float64
	// Scores returns one row of probabilities per image.
	Scores(ctx context.Context, imgs []image.Image) ([][]float32, error)
	// Info describes the model for GET /v1/model (metrics, preprocessing, sha256, ...).
	// It must contain a string "id" identifying the model (e.g. its sha256).
	Info() map[string]any
}

// DecisionRuler is implemented by predictors whose decision rule a request may choose
// (POST /v1/predict?decision=RULE); *model.Model does. DecisionRule returns the rule's
// name, its per-label thresholds and, for a topk:K rule, K (else 0); an error for a rule
// that does not parse or that the model cannot apply (answered 400).
type DecisionRuler interface {
	DecisionRule(rule string) (name string, thresholds []float64, topK int, err error)
}

// Explainer is implemented by predictors that draw per-label activation maps
// (POST /v1/predict?explain=1); *model.Model does when opened with
// model.Options.Explain. CanExplain says whether this one can. ExplainScores returns
// each image's scores and, for the labels pick(i, scores) chooses (indices into
// Labels), their maps with the overlay PNG, running the model once per image.
type Explainer interface {
	CanExplain() bool
	ExplainScores(ctx context.Context, imgs []image.Image, pick func(i int, scores []float32) []int) ([][]float32, [][]prediction.Map, error)
}

// MaxExplainLabels bounds the maps of one image in an explain=1 answer: the best
// MaxExplainLabels predicted labels get one each. With the overlay at most
// model.MaxOverlaySide (256) pixels a side (a 224×224 overlay is about 70–110 KB, a
// third more in base64), an answer holds at most MaxImages × MaxExplainLabels overlays.
const MaxExplainLabels = 8

// Options configures a Server. Zero values take the documented defaults.
type Options struct {
	MaxBodyBytes int64 // default 20 MB
	MaxPixels    int64 // per image; default imageio.DefaultMaxPixels
	// MaxDecodedBytes bounds the memory one image may take once decoded, checked from
	// its header before decoding (413 beyond it); default imageio.DefaultMaxDecodedBytes
	// (256 MiB).
	MaxDecodedBytes int64
	// DecodeBudgetBytes bounds the decoded-image bytes held by all requests at once: a
	// request waits up to DecodeWait for room, then gets 503. Default 1 GiB; it is never
	// below MaxDecodedBytes.
	DecodeBudgetBytes int64
	// DecodeWait is how long a request waits for room in the decode budget; default 2 s.
	DecodeWait time.Duration
	// BodyTimeout bounds the time to read a request body, before the request takes a
	// concurrency slot (408 beyond it): a slow upload holds its connection, not the
	// model. Default 20 s.
	BodyTimeout    time.Duration
	MaxImages      int           // images per request; default 32
	RequestTimeout time.Duration // default 30 s
	MaxConcurrent  int           // requests being handled at once; default 256
	QueueSize      int           // images waiting for the engine; default 256
	MaxBatch       int           // images per engine batch; default imageio.DefaultBatchSize
	// BatchDelay is how long the batcher waits to gather concurrent requests into one
	// engine batch; 0 means the default 3 ms, negative disables batching.
	BatchDelay time.Duration
	// RefuseDelay, when positive, holds a request refused with 413 (a Content-Length
	// over MaxBodyBytes, a body that grows past it, an image whose header declares more
	// than MaxPixels or MaxDecodedBytes, more than MaxImages images, images over the
	// decode budget) for this long before it is answered: nothing more of its body is
	// read meanwhile, and it holds no concurrency slot, decode budget or model. A client
	// looping such uploads back to back then gets one answer per RefuseDelay per
	// connection instead of as many as the server can refuse. 0 answers at once (the
	// library's default; `multilabel serve` uses 500 ms).
	RefuseDelay time.Duration
	// MaxRefuseHeld bounds the requests RefuseDelay holds at once; beyond it a refusal
	// is answered at once. Default DefaultMaxRefuseHeld (64).
	MaxRefuseHeld int
	// Token, when set, is required as "Authorization: Bearer <token>" on /v1/ routes.
	Token string
	// MetricsAuth requires the token on GET /metrics too (when a token is set).
	MetricsAuth bool
	// Reload, when set, builds a fresh predictor for POST /v1/reload (and SIGHUP in the CLI).
	Reload func(ctx context.Context) (Predictor, error)
	// OnRetire, when set, is called (once, in its own goroutine) with a predictor that
	// Swap or a reload replaced, as soon as the last request in flight on it has
	// finished: the place to free it (model.Model.Close) rather than after a delay.
	OnRetire func(Predictor)
	Logger   *slog.Logger
}

func (o *Options) defaults() {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 20 << 20
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = imageio.DefaultMaxPixels
	}
	if o.MaxDecodedBytes <= 0 {
		o.MaxDecodedBytes = imageio.DefaultMaxDecodedBytes
	}
	if o.DecodeBudgetBytes <= 0 {
		o.DecodeBudgetBytes = DefaultDecodeBudgetBytes
	}
	o.DecodeBudgetBytes = max(o.DecodeBudgetBytes, o.MaxDecodedBytes)
	if o.DecodeWait <= 0 {
		o.DecodeWait = 2 * time.Second
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = 20 * time.Second
	}
	if o.MaxImages <= 0 {
		o.MaxImages = 32
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 256
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = imageio.DefaultBatchSize
	}
	if o.BatchDelay == 0 {
		o.BatchDelay = 3 * time.Millisecond
	}
	if o.MaxRefuseHeld <= 0 {
		o.MaxRefuseHeld = DefaultMaxRefuseHeld
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// DefaultDecodeBudgetBytes is the default of Options.DecodeBudgetBytes: 1 GiB of decoded
// images in flight across the server.
const DefaultDecodeBudgetBytes = 1 << 30

// Server serves one model at a time; Swap replaces it without failing requests.
type Server struct {
	opt     Options
	model   atomic.Pointer[loaded]
	sem     chan struct{}
	budget  *byteBudget
	metrics *metrics
	tarpit  *tarpit
	mux     *http.ServeMux
	reload  sync.Mutex
}

// loaded is one model with its own batcher; requests hold a reference while in flight.
type loaded struct {
	p       Predictor
	labels  []string
	thr     []float64
	info    map[string]any
	batcher *batcher

	refs     atomic.Int64 // requests using p now
	retired  atomic.Bool  // swapped out: p is retired once refs reaches 0
	idle     chan struct{}
	idleOnce sync.Once
}

// acquire returns the current model with a reference taken; release gives it back.
func (s *Server) acquire() *loaded {
	for {
		l := s.model.Load()
		l.refs.Add(1)
		if s.model.Load() == l {
			// Swap stores the new model before it looks at the old one's refs, so a
			// swap that this load did not see will see this reference.
			return l
		}
		l.release()
	}
}

func (l *loaded) release() {
	if l.refs.Add(-1) == 0 && l.retired.Load() {
		l.idleOnce.Do(func() { close(l.idle) })
	}
}

// retire marks l swapped out and calls onRetire once no request uses it any more and
// its batcher has finished its last batch.
func (l *loaded) retire(onRetire func(Predictor)) {
	l.retired.Store(true)
	l.batcher.closeWhenIdle()
	if l.refs.Load() == 0 {
		l.idleOnce.Do(func() { close(l.idle) })
	}
	if onRetire == nil {
		return
	}
	go func() {
		<-l.idle
		<-l.batcher.stopped
		onRetire(l.p)
	}()
}

// New returns a server for p.
func New(p Predictor, opt Options) (*Server, error) {
	opt.defaults()
	s := &Server{opt: opt, sem: make(chan struct{}, opt.MaxConcurrent), metrics: newMetrics(),
		budget: newByteBudget(opt.DecodeBudgetBytes)}
	s.tarpit = newTarpit(opt.RefuseDelay, opt.MaxRefuseHeld, s.metrics)
	if err := s.Swap(p); err != nil {
		return nil, err
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /v1/predict", s.auth(s.handlePredict))
	s.mux.HandleFunc("GET /v1/model", s.auth(s.handleModel))
	s.mux.HandleFunc("POST /v1/reload", s.requireToken(s.handleReload))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	if opt.MetricsAuth {
		s.mux.HandleFunc("GET /metrics", s.auth(s.metrics.serve))
	} else {
		s.mux.HandleFunc("GET /metrics", s.metrics.serve)
	}
	s.mux.HandleFunc("GET /{$}", s.servePage)
	return s, nil
}

// Handler returns the server's http.Handler (mount it anywhere).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h, pattern := s.mux.Handler(r)
		if pattern == "" {
			// Unknown path or method: a JSON 404/405, never a file from disk.
			if allow := s.allowed(r); allow != "" {
				s.metrics.errorKind("method_not_allowed")
				rw.Header().Set("Allow", allow)
				writeError(rw, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" "+r.URL.Path+": allowed: "+allow)
			} else {
				s.metrics.errorKind("not_found")
				writeError(rw, http.StatusNotFound, "not_found", "no such route: "+r.Method+" "+r.URL.Path)
			}
		} else {
			h.ServeHTTP(rw, r)
		}
		s.metrics.request(routeName(pattern), rw.code, time.Since(start))
	})
}

// allowed returns the methods (comma-separated, as the Allow header wants them) that
// have a route for r's path, or "" when none has: the routes are asked, not listed
// twice.
func (s *Server) allowed(r *http.Request) string {
	var ok []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			ok = append(ok, m)
		}
	}
	return strings.Join(ok, ", ")
}

func routeName(pattern string) string {
	if pattern == "" {
		return "other"
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = pattern[i+1:]
	}
	if pattern == "/{$}" {
		return "/"
	}
	return pattern
}

// Swap installs a new predictor; requests already in flight finish on the old one,
// which is then handed to Options.OnRetire.
func (s *Server) Swap(p Predictor) error {
	if p == nil {
		return errors.New("serve: nil predictor")
	}
	labels := p.Labels()
	thr := p.Thresholds()
	if len(labels) == 0 {
		return errors.New("serve: model has no labels")
	}
	if len(thr) != len(labels) {
		return fmt.Errorf("serve: model has %d thresholds for %d labels", len(thr), len(labels))
	}
	l := &loaded{p: p, labels: labels, thr: thr, info: p.Info(), idle: make(chan struct{})}
	l.batcher = newBatcher(p, s.opt, s.metrics)
	old := s.model.Swap(l)
	if old != nil {
		old.retire(s.opt.OnRetire)
	}
	return nil
}

// Registry returns the server's own Prometheus registry: the multilabel_* metrics plus
// the Go runtime and process collectors, as served at GET /metrics. A program that
// mounts Handler in a larger service can gather it alongside its own registry.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// Close stops the batcher of the current model after its queued work is done, and
// answers the refusals RefuseDelay holds at once (see ReleaseRefusals).
func (s *Server) Close() {
	s.ReleaseRefusals()
	if l := s.model.Load(); l != nil {
		l.batcher.closeWhenIdle()
	}
}

// ReleaseRefusals answers every request that Options.RefuseDelay holds now, and every
// later refusal, at once: call it when shutting down (http.Server.RegisterOnShutdown),
// so that a graceful shutdown does not wait on them.
func (s *Server) ReleaseRefusals() { s.tarpit.release() }

// ReloadNow runs Options.Reload and swaps the model in.
func (s *Server) ReloadNow(ctx context.Context) error {
	if s.opt.Reload == nil {
		return errors.New("serve: reload is not configured")
	}
	s.reload.Lock()
	defer s.reload.Unlock()
	p, err := s.opt.Reload(ctx)
	if err != nil {
		return err
	}
	if err := s.Swap(p); err != nil {
		return err
	}
	s.metrics.reloads.Inc()
	s.opt.Logger.Info("model reloaded", "id", p.Info()["id"])
	return nil
}

func (s *Server) tokenOK(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.opt.Token)) == 1
}

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opt.Token != "" && !s.tokenOK(r) {
			s.metrics.errorKind("unauthorized")
			w.Header().Set("WWW-Authenticate", `Bearer realm="multilabel"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or wrong bearer token")
			return
		}
		h(w, r)
	}
}

// requireToken refuses the route entirely when no token is configured: reloading must
// never be open to anyone who can reach the port.
func (s *Server) requireToken(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opt.Token == "" {
			s.metrics.errorKind("forbidden")
			writeError(w, http.StatusForbidden, "forbidden", "reload over HTTP needs the server to run with a token")
			return
		}
		s.auth(h)(w, r)
	}
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	l := s.model.Load()
	if l == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "no model"})
		return
	}
	if l.batcher.full() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "queue full"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "model": l.info["id"]})
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	l := s.model.Load()
	out := map[string]any{}
	for k, v := range l.info {
		out[k] = v
	}
	out["labels"] = l.labels
	out["thresholds"] = l.thr
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleReload(w http.ResponseWriter, r *http.Request) {
	if err := s.ReloadNow(r.Context()); err != nil {
		s.metrics.errorKind("reload")
		writeError(w, http.StatusInternalServerError, "reload_failed", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "reloaded", "model": s.model.Load().info["id"]})
}

// LabelScore is one label of a prediction.
type LabelScore = prediction.Label

// ImageResult is the prediction for one image of a request, in the one JSON shape of a
// prediction (package prediction: labels chosen by prediction.Select, best
// first; scores of every label in vocabulary order; the rule; path is the uploaded
// part's file name).
type ImageResult struct {
	prediction.Image
	// Name is Path under its former key, kept for one release.
	Name string `json:"name,omitempty"`
}

// Response is the body of a successful POST /v1/predict.
type Response struct {
	Model   any           `json:"model"`
	Results []ImageResult `json:"results"`
	TimeMS  float64       `json:"time_ms"`
}

type apiError struct {
	status int
	kind   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func clientErr(status int, kind, format string, args ...any) *apiError {
	return &apiError{status: status, kind: kind, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) handlePredict(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	topK, thrOverride, aerr := parseQuery(r)
	if aerr != nil {
		s.fail(w, aerr)
		return
	}
	explain, aerr := parseExplain(r)
	if aerr != nil {
		s.fail(w, aerr)
		return
	}
	// The body is read before a concurrency slot is taken, under its own deadline and
	// size limit: a slow upload holds its connection, never the model.
	if r.ContentLength > s.opt.MaxBodyBytes {
		w.Header().Set("Connection", "close")
		s.refuse(w, r, clientErr(http.StatusRequestEntityTooLarge, "too_large", "body of %d bytes, limit %d", r.ContentLength, s.opt.MaxBodyBytes))
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.opt.BodyTimeout)) // writers without deadlines (tests) keep the server's
	r.Body = http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes)
	parts, aerr := s.readParts(r)
	if aerr != nil {
		// The rest of the body is not wanted: close the connection after the reply
		// rather than letting the server drain it (past the deadline, that would wait
		// on the slow client forever).
		w.Header().Set("Connection", "close")
		s.refuse(w, r, aerr)
		return
	}
	_ = rc.SetReadDeadline(time.Time{})
	var slotOnce sync.Once
	freeSlot := func() { slotOnce.Do(func() { <-s.sem }) }
	select {
	case s.sem <- struct{}{}:
		defer freeSlot()
	default:
		s.metrics.errorKind("too_many_requests")
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "too_many_requests", "too many concurrent requests")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.RequestTimeout)
	defer cancel()

	names, imgs, held, aerr := s.decodeParts(ctx, parts)
	if aerr != nil {
		s.budget.release(held)
		freeSlot() // a refusal held by RefuseDelay keeps neither slot nor budget
		s.refuse(w, r, aerr)
		return
	}
	defer s.budget.release(held) // the decoded images live until the predictions are done
	l := s.acquire()
	defer l.release()
	if topK > len(l.labels) {
		s.fail(w, clientErr(http.StatusBadRequest, "bad_query", "top_k=%d: the model has %d labels", topK, len(l.labels)))
		return
	}
	thr, rule, maxK := l.thr, "", 0
	if v := r.URL.Query().Get("decision"); v != "" {
		dr, ok := l.p.(DecisionRuler)
		if !ok {
			s.fail(w, clientErr(http.StatusBadRequest, "bad_query", "decision=%q: this model cannot change its decision rule", v))
			return
		}
		name, th, k, err := dr.DecisionRule(v)
		if err != nil {
			s.fail(w, clientErr(http.StatusBadRequest, "bad_query", "decision=%q: %v", v, err))
			return
		}
		if len(th) != len(l.labels) {
			s.fail(w, &apiError{status: http.StatusInternalServerError, kind: "internal", msg: "decision rule gave the wrong number of thresholds"})
			return
		}
		thr, rule, topK, maxK = th, prediction.RuleDecision(name), 0, k
	}
	var probs [][]float32
	var maps [][]prediction.Map
	var err error
	if explain {
		ex, ok := l.p.(Explainer)
		if !ok || !ex.CanExplain() {
			s.fail(w, clientErr(http.StatusBadRequest, "bad_query", "explain=1: this model draws no activation maps (its backbone cut has no spatial map or its head kind has none; see 'multilabel backbone inspect')"))
			return
		}
		probs, maps, err = l.batcher.explain(ctx, ex, imgs, func(i int, p []float32) []int {
			return labelIndices(decide("", p, l.labels, thr, thrOverride, topK, maxK, rule).Labels, l.labels, MaxExplainLabels)
		})
	} else {
		probs, err = l.batcher.submit(ctx, imgs)
	}
	if err != nil {
		var ae *apiError
		switch {
		case errors.As(err, &ae):
			s.fail(w, ae)
		case errors.Is(err, context.DeadlineExceeded):
			s.fail(w, &apiError{status: http.StatusServiceUnavailable, kind: "timeout", msg: "request timed out"})
		case errors.Is(err, context.Canceled):
			s.fail(w, &apiError{status: 499, kind: "canceled", msg: "client went away"})
		default:
			s.opt.Logger.Error("predict failed", "err", err)
			s.fail(w, &apiError{status: http.StatusInternalServerError, kind: "internal", msg: "prediction failed"})
		}
		return
	}
	resp := Response{Model: l.info["id"], Results: make([]ImageResult, len(imgs))}
	for i := range imgs {
		resp.Results[i] = decide(names[i], probs[i], l.labels, thr, thrOverride, topK, maxK, rule)
		if maps != nil {
			resp.Results[i].Explain = maps[i]
		}
	}
	resp.TimeMS = float64(time.Since(start).Microseconds()) / 1000
	writeJSON(w, http.StatusOK, resp)
}

// refuse answers e like fail; a 413 is first held by the refusal delay (Options.RefuseDelay).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, e *apiError) {
	if e.status == http.StatusRequestEntityTooLarge {
		s.tarpit.hold(r.Context())
	}
	s.fail(w, e)
}

func (s *Server) fail(w http.ResponseWriter, e *apiError) {
	s.metrics.errorKind(e.kind)
	if e.status == http.StatusServiceUnavailable || e.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeError(w, e.status, e.kind, e.msg)
}

func parseQuery(r *http.Request) (topK int, thr float64, err *apiError) {
	q := r.URL.Query()
	thr = math.NaN()
	if v := q.Get("top_k"); v != "" {
		k, e := strconv.Atoi(v)
		if e != nil || k < 0 || k > 10000 {
			return 0, 0, clientErr(http.StatusBadRequest, "bad_query", "top_k=%q: want an integer in 0..10000", v)
		}
		topK = k
	}
	if q.Get("decision") != "" && (q.Get("top_k") != "" || q.Get("threshold") != "") {
		return 0, 0, clientErr(http.StatusBadRequest, "bad_query", "decision= excludes top_k= and threshold=")
	}
	if v := q.Get("threshold"); v != "" {
		t, e := strconv.ParseFloat(v, 64)
		if e != nil || math.IsNaN(t) || t < 0 || t > 1 {
			return 0, 0, clientErr(http.StatusBadRequest, "bad_query", "threshold=%q: want a number in [0,1]", v)
		}
		thr = t
	}
	return topK, thr, nil
}

// parseExplain reads explain= (1/true/yes on, 0/false/no or absent off).
func parseExplain(r *http.Request) (bool, *apiError) {
	switch v := strings.ToLower(r.URL.Query().Get("explain")); v {
	case "", "0", "false", "no":
		return false, nil
	case "1", "true", "yes":
		return true, nil
	default:
		return false, clientErr(http.StatusBadRequest, "bad_query", "explain=%q: want 1 or 0", v)
	}
}

// labelIndices maps chosen labels (best first) to their vocabulary indices, at most n.
func labelIndices(chosen []prediction.Label, labels []string, n int) []int {
	out := make([]int, 0, min(n, len(chosen)))
	for _, c := range chosen {
		if len(out) == n {
			break
		}
		if j := slices.Index(labels, c.Label); j >= 0 {
			out = append(out, j)
		}
	}
	return out
}

// decide turns one row of probabilities into the response's labels by the one rule of
// package prediction (prediction.Select): top_k > 0 keeps the k best labels whatever
// their thresholds, as predict --top-k and model.Options.TopK do; else a label is kept
// when its score passes its threshold (the model's, or the query's override), at most
// maxK of them under a decision=topk:K rule.
func decide(name string, p []float32, labels []string, thr []float64, override float64, topK, maxK int, rule string) ImageResult {
	if !math.IsNaN(override) {
		thr = slices.Repeat([]float64{override}, len(labels))
	}
	if rule == "" {
		rule = prediction.RuleThreshold
		if topK > 0 {
			rule = prediction.RuleTopK(topK)
		}
	}
	sel := prediction.Select(p, thr, topK, maxK)
	chosen := make([]string, len(sel))
	for i, j := range sel {
		chosen[i] = labels[j]
	}
	return ImageResult{Image: prediction.New(name, p, labels, thr, rule, chosen, 0), Name: name}
}

// bodyPart is one image of a request, not yet decoded.
type bodyPart struct {
	name string
	data []byte
}

// readParts reads the request body: a single image, or multipart parts that each hold
// one image. JSON bodies are refused: the server never fetches URLs.
func (s *Server) readParts(r *http.Request) ([]bodyPart, *apiError) {
	ct := r.Header.Get("Content-Type")
	mt, params, _ := mime.ParseMediaType(ct)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return nil, clientErr(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"JSON bodies are not accepted (the server does not fetch URLs); send the image bytes or multipart/form-data")
	case mt == "multipart/form-data":
		return s.readMultipart(r, params["boundary"])
	case ct == "" || mt == "application/octet-stream" || strings.HasPrefix(mt, "image/"):
		data, aerr := s.readImage(r.Body, "", r.ContentLength)
		if aerr != nil {
			return nil, aerr
		}
		return []bodyPart{{data: data}}, nil
	default:
		return nil, clientErr(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"content type %q: send an image (image/*, application/octet-stream) or multipart/form-data", mt)
	}
}

func (s *Server) readMultipart(r *http.Request, boundary string) ([]bodyPart, *apiError) {
	if boundary == "" {
		return nil, clientErr(http.StatusBadRequest, "bad_multipart", "multipart body without a boundary")
	}
	mr := multipart.NewReader(r.Body, boundary)
	var parts []bodyPart
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, clientErr(http.StatusRequestEntityTooLarge, "too_large", "body larger than %d bytes", s.opt.MaxBodyBytes)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, bodyTimeout(s.opt.BodyTimeout)
			}
			return nil, clientErr(http.StatusBadRequest, "bad_multipart", "reading multipart body: %v", err)
		}
		if part.FileName() == "" && part.FormName() != "image" && part.FormName() != "file" && part.FormName() != "images" {
			part.Close()
			continue // a plain form field
		}
		if len(parts) >= s.opt.MaxImages {
			return nil, clientErr(http.StatusRequestEntityTooLarge, "too_many_images", "more than %d images in one request", s.opt.MaxImages)
		}
		data, aerr := s.readImage(part, part.FileName(), -1)
		if aerr != nil {
			return nil, aerr // not part.Close(): that would read the rest of the part
		}
		part.Close()
		parts = append(parts, bodyPart{name: part.FileName(), data: data})
	}
	if len(parts) == 0 {
		return nil, clientErr(http.StatusBadRequest, "no_image", "multipart body has no image part")
	}
	return parts, nil
}

func bodyTimeout(d time.Duration) *apiError {
	return clientErr(http.StatusRequestTimeout, "body_timeout", "request body not received within %v", d)
}

// decodeParts decodes the parts of a request after taking their decoded sizes (from
// their headers) from the server's decode budget, all of them at once; held is what the
// caller gives back once the images are no longer needed (also on error). Every header
// is checked before any image is decoded, so no CPU goes to the parts of a request that
// is then refused: a part over MaxDecodedBytes, or images that together decode to more
// than the whole budget (413: no wait could make room for them). Taking the sizes
// together means two requests never each hold part of what the other waits for, and no
// request decodes images only to get 503 on a later one.
func (s *Server) decodeParts(ctx context.Context, parts []bodyPart) (names []string, imgs []image.Image, held int64, aerr *apiError) {
	var total int64
	for _, p := range parts {
		prefix := ""
		if p.name != "" {
			prefix = p.name + ": "
		}
		if len(p.data) == 0 {
			return nil, nil, 0, clientErr(http.StatusBadRequest, "empty_body", "%sempty image", prefix)
		}
		need, err := imageio.DecodedBytes(p.data)
		if err != nil {
			return nil, nil, 0, decodeError(prefix, err)
		}
		if need > s.opt.MaxDecodedBytes {
			return nil, nil, 0, tooManyDecodedBytes(prefix, need, s.opt.MaxDecodedBytes)
		}
		if need > s.opt.DecodeBudgetBytes-total { // both ≤ the budget: no overflow
			return nil, nil, 0, clientErr(http.StatusRequestEntityTooLarge, "too_many_decoded_bytes",
				"the request's %d images decode to more than %d MB in all, the most the server decodes at once; send fewer per request",
				len(parts), s.opt.DecodeBudgetBytes>>20)
		}
		total += need
	}
	wctx, cancel := context.WithTimeout(ctx, s.opt.DecodeWait)
	err := s.budget.acquire(wctx, total)
	cancel()
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, nil, 0, &apiError{status: 499, kind: "canceled", msg: "client went away"}
		}
		return nil, nil, 0, clientErr(http.StatusServiceUnavailable, "decode_budget",
			"the server is decoding too many images; retry shortly")
	}
	for _, p := range parts {
		img, aerr := s.decode(p.name, p.data)
		if aerr != nil {
			return nil, nil, total, aerr
		}
		names = append(names, p.name)
		imgs = append(imgs, img)
	}
	return names, imgs, total, nil
}

// headerWindow is how far into an image readImage keeps trying to parse its header; a
// header not complete by then (a JPEG after a long run of metadata segments) is checked
// once the whole image has arrived, when it is decoded.
const headerWindow = 256 << 10

// readImage reads one image (a whole body, or one multipart part). Its header is parsed
// as soon as it has arrived, and an image whose header declares more than MaxPixels or
// MaxDecodedBytes is refused (413) right then: the rest of it is neither read nor waited
// for (the handler then closes the connection). sizeHint is the expected length when
// known (Content-Length), else ≤ 0.
func (s *Server) readImage(r io.Reader, name string, sizeHint int64) ([]byte, *apiError) {
	// Memory grows with the bytes that really arrive, not with the announced length
	// (an announcement costs nothing to make): 4 KiB until they are filled, so that
	// a connection trickling its body holds no more, then doubling. The announced
	// length only stops the last step from overshooting (+1: reach EOF without
	// growing again), and lets the second buffer hold up to 64 KiB at once.
	buf := make([]byte, 0, 4<<10)
	checked, checking := 0, true // the header was last tried at length checked
	for {
		if len(buf) == cap(buf) {
			grow := len(buf) // doubling
			if sizeHint > 0 {
				if want := sizeHint + 1 - int64(len(buf)); want > 0 {
					grow = int(min(want, max(int64(grow), 64<<10-int64(len(buf)))))
				}
			}
			buf = slices.Grow(buf, grow)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		eof := errors.Is(err, io.EOF)
		// Tried on every read of the first KiB, then each time the length has
		// quadrupled: a few parses at most, whatever the chunking.
		if checking && len(buf) > checked && (len(buf) <= 1<<10 || len(buf) >= 4*checked || eof) {
			aerr, done := s.checkHeader(name, buf)
			if aerr != nil {
				return nil, aerr
			}
			checked, checking = len(buf), !done && len(buf) < headerWindow
		}
		if eof {
			return buf, nil
		}
		if err != nil {
			return nil, readError(err)
		}
	}
}

// checkHeader parses the image header at the start of data (possibly incomplete): done
// once it parsed; an error when the header declares more than the server decodes.
func (s *Server) checkHeader(name string, data []byte) (aerr *apiError, done bool) {
	format, cfg, err := imageio.Config(data)
	if err != nil {
		return nil, false // not there yet, or bad: decode will say which
	}
	prefix := ""
	if name != "" {
		prefix = name + ": "
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > s.opt.MaxPixels {
		return clientErr(http.StatusRequestEntityTooLarge, "too_many_pixels",
			"%s%s header declares %dx%d, more than %d pixels", prefix, format, cfg.Width, cfg.Height, s.opt.MaxPixels), true
	}
	need, err := imageio.DecodedBytes(data)
	if err != nil {
		return nil, true
	}
	if need > s.opt.MaxDecodedBytes {
		return tooManyDecodedBytes(prefix, need, s.opt.MaxDecodedBytes), true
	}
	return nil, true
}

func tooManyDecodedBytes(prefix string, need, limit int64) *apiError {
	return clientErr(http.StatusRequestEntityTooLarge, "too_many_decoded_bytes",
		"%simage decodes to about %d MB, limit %d MB per image", prefix, need>>20, limit>>20)
}

func readError(err error) *apiError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return clientErr(http.StatusRequestEntityTooLarge, "too_large", "body larger than %d bytes", mbe.Limit)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return clientErr(http.StatusRequestTimeout, "body_timeout", "request body not received in time")
	}
	return clientErr(http.StatusBadRequest, "bad_body", "reading body: %v", err)
}

func (s *Server) decode(name string, data []byte) (image.Image, *apiError) {
	prefix := ""
	if name != "" {
		prefix = name + ": "
	}
	if len(data) == 0 {
		return nil, clientErr(http.StatusBadRequest, "empty_body", "%sempty image", prefix)
	}
	img, err := imageio.DecodeBytes(data, imageio.DecodeOptions{MaxPixels: s.opt.MaxPixels, MaxDecodedBytes: s.opt.MaxDecodedBytes})
	if err != nil {
		return nil, decodeError(prefix, err)
	}
	return img, nil
}

func decodeError(prefix string, err error) *apiError {
	switch {
	case errors.Is(err, imageio.ErrTooLarge):
		return clientErr(http.StatusRequestEntityTooLarge, "too_many_pixels", "%s%v", prefix, err)
	case errors.Is(err, imageio.ErrUnknownFmt):
		return clientErr(http.StatusUnsupportedMediaType, "not_an_image", "%snot a supported image (JPEG, PNG, GIF, BMP, WebP)", prefix)
	default:
		return clientErr(http.StatusUnprocessableEntity, "bad_image", "%s%v", prefix, err)
	}
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

// Unwrap lets http.ResponseController reach the connection (read deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, kind, msg string) {
	writeJSON(w, status, map[string]string{"error": msg, "kind": kind})
}
