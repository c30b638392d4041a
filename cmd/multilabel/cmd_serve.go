package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/serve"
)

func newServeCmd(e *env) *cobra.Command {
	var (
		modelPath, addr, token   string
		ef                       engineFlags
		batchDelay, timeout      time.Duration
		maxBatch, queue, maxConc int
		maxBody, maxPixels       int64
		lf                       serveLimitFlags
	)
	c := &cobra.Command{
		Use:   "serve --model M.mlb [--addr 127.0.0.1:8080] [--token-file F]",
		Short: "serve predictions over HTTP (JSON API + web page)",
		Args:  noArgs,
	}
	fs := c.Flags()
	fs.StringVar(&modelPath, "model", "", "model bundle (.mlb)")
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "listen address (loopback by default)")
	// The default is read at run time, never shown: help and usage errors print
	// defaults, and the token must not appear in them.
	fs.StringVar(&token, "token", "", "require 'Authorization: Bearer TOKEN' on /v1/ routes; visible in ps, prefer --token-file or $MULTILABEL_TOKEN ("+tokenEnvState()+")")
	lf.register(fs)
	ef.register(fs, false)
	fs.DurationVar(&batchDelay, "batch-delay", 3*time.Millisecond, "how long to gather concurrent requests into one batch (0 disables batching)")
	fs.IntVar(&maxBatch, "max-batch", 32, "images per engine batch")
	fs.IntVar(&queue, "queue", 256, "images allowed to wait; beyond it requests get 503")
	fs.Int64Var(&maxBody, "max-body", 20<<20, "maximum request body in bytes")
	fs.Int64Var(&maxPixels, "max-pixels", 80_000_000, "maximum pixels an image header may declare")
	fs.DurationVar(&timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.IntVar(&maxConc, "max-concurrent", 256, "requests handled at once; beyond it 429")
	c.RunE = func(c *cobra.Command, args []string) error {
		tok, err := lf.resolveToken(token)
		if err != nil {
			return err
		}
		return runServe(c.Context(), e, serveFlags{modelPath: modelPath, addr: addr, token: tok, ef: ef, batchDelay: batchDelay,
			timeout: timeout, maxBatch: maxBatch, queue: queue, maxConc: maxConc, maxBody: maxBody, maxPixels: maxPixels, limits: lf})
	}
	return c
}

type serveFlags struct {
	modelPath, addr, token   string
	ef                       engineFlags
	batchDelay, timeout      time.Duration
	maxBatch, queue, maxConc int
	maxBody, maxPixels       int64
	limits                   serveLimitFlags
}

func runServe(ctx context.Context, e *env, f serveFlags) error {
	if f.modelPath == "" {
		return usageErrorf("--model is required")
	}
	kind, err := f.ef.parse()
	if err != nil {
		return err
	}
	modelPath, ortLib, timeout := f.modelPath, f.ef.ortLib, f.timeout
	rs, err := newRemote(modelPath)
	if err != nil {
		return err
	}
	defer rs.close()
	// A bundle in object storage is downloaded again at every (re)load.
	var fetchErr error // the last download failure (not the bundle's fault when infrastructure)
	load := func() (*model.Model, error) {
		local, err := rs.fetch(ctx, modelPath)
		if fetchErr = err; err != nil {
			return nil, err
		}
		// Maps for ?explain=1 when the bundle can draw them: the explain graph runs the
		// backbone once, like the plain one, and costs plain requests nothing measurable.
		m, err := model.LoadWith(local, model.Options{Engine: kind, ORTLib: ortLib, Explain: true})
		if errors.Is(err, model.ErrCannotExplain) {
			e.log.Info("activation maps off: explain=1 requests get 400", "reason", err)
			return model.LoadWith(local, model.Options{Engine: kind, ORTLib: ortLib})
		}
		return m, err
	}
	m, err := load()
	if err != nil {
		if fetchErr != nil {
			return fetchErr // already classified by fetch
		}
		return badInput(err)
	}
	delay := f.batchDelay
	if delay == 0 {
		delay = -1 // serve.Options: negative disables batching
	}
	var current = m
	srv, err := serve.New(m, serve.Options{
		MaxBodyBytes: f.maxBody, MaxPixels: f.maxPixels, RequestTimeout: timeout, MaxConcurrent: f.maxConc,
		QueueSize: f.queue, MaxBatch: f.maxBatch, BatchDelay: delay, Token: f.token,
		MaxDecodedBytes: f.limits.maxDecodedMB << 20, DecodeBudgetBytes: f.limits.decodeBudgetMB << 20,
		BodyTimeout: f.limits.bodyTimeout, MetricsAuth: f.limits.metricsAuth,
		RefuseDelay: f.limits.refuseDelay, MaxRefuseHeld: f.limits.refuseHeld,
		Reload: func(ctx context.Context) (serve.Predictor, error) {
			nm, err := load()
			if err != nil {
				return nil, err
			}
			current = nm
			return nm, nil
		},
		// The replaced model is closed as soon as its last request is done, and its
		// memory handed back to the system at once (ONNX Runtime's session and arena
		// from the C heap, the bundle's weights from the Go heap), rather than whenever
		// the collector or the C allocator gets to it.
		OnRetire: func(p serve.Predictor) {
			if old, ok := p.(*model.Model); ok {
				old.Close()
			}
			serve.ReleaseMemory()
		},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: timeout, WriteTimeout: timeout + 5*time.Second, IdleTimeout: 2 * time.Minute}
	hs.RegisterOnShutdown(srv.ReleaseRefusals) // a graceful shutdown does not wait on held refusals
	e.log.Info("serving", "addr", "http://"+ln.Addr().String(), "model", m.Info()["id"], "engine", m.EngineName(), "labels", len(m.Labels()), "auth", setOrUnset(f.token),
		"max_decoded_mb", f.limits.maxDecodedMB, "decode_budget_mb", f.limits.decodeBudgetMB, "metrics_auth", f.limits.metricsAuth, "refuse_delay", f.limits.refuseDelay)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := srv.ReloadNow(context.Background()); err != nil {
				e.log.Error("reload failed; still serving the previous model", "err", err)
			}
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	e.log.Info("shutting down: draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	srv.Close()
	return current.Close()
}
