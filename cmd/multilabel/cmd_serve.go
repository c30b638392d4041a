package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/multilabel/multilabel/model"
	"github.com/multilabel/multilabel/serve"
)

func init() {
	register(&command{name: "serve", summary: "serve predictions over HTTP (JSON API + web page)", run: runServe})
}

func runServe(ctx context.Context, args []string) error {
	fs := newFlags("serve", "--model M.mlb [--addr 127.0.0.1:8080] [--token T]")
	modelPath := fs.String("model", "", "model bundle (.mlb)")
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (loopback by default)")
	token := fs.String("token", os.Getenv("MULTILABEL_TOKEN"), "require 'Authorization: Bearer TOKEN' on /v1/ routes (default $MULTILABEL_TOKEN)")
	engineKind := fs.String("engine", "auto", "engine: auto|ort|go")
	ortLib := fs.String("ort-lib", "", "path of libonnxruntime.so (default: $ONNXRUNTIME_LIB or the install place)")
	batchDelay := fs.Duration("batch-delay", 3*time.Millisecond, "how long to gather concurrent requests into one batch (0 disables batching)")
	maxBatch := fs.Int("max-batch", 32, "images per engine batch")
	queue := fs.Int("queue", 256, "images allowed to wait; beyond it requests get 503")
	maxBody := fs.Int64("max-body", 20<<20, "maximum request body in bytes")
	maxPixels := fs.Int64("max-pixels", 80_000_000, "maximum pixels an image header may declare")
	timeout := fs.Duration("timeout", 30*time.Second, "per-request timeout")
	maxConc := fs.Int("max-concurrent", 256, "requests handled at once; beyond it 429")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" {
		return usageErrorf("--model is required")
	}
	load := func() (*model.Model, error) {
		return model.LoadWith(*modelPath, model.Options{Engine: *engineKind, ORTLib: *ortLib})
	}
	m, err := load()
	if err != nil {
		return badInput(err)
	}
	delay := *batchDelay
	if delay == 0 {
		delay = -1 // serve.Options: negative disables batching
	}
	var current = m
	srv, err := serve.New(m, serve.Options{
		MaxBodyBytes: *maxBody, MaxPixels: *maxPixels, RequestTimeout: *timeout, MaxConcurrent: *maxConc,
		QueueSize: *queue, MaxBatch: *maxBatch, BatchDelay: delay, Token: *token,
		Reload: func(ctx context.Context) (serve.Predictor, error) {
			nm, err := load()
			if err != nil {
				return nil, err
			}
			old := current
			current = nm
			// The old model's in-flight batches finish first; close it a little later.
			time.AfterFunc(*timeout+time.Second, func() { old.Close() })
			return nm, nil
		},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: *timeout, WriteTimeout: *timeout + 5*time.Second, IdleTimeout: 2 * time.Minute}
	slog.Info("serving", "addr", "http://"+ln.Addr().String(), "model", m.Info()["id"], "engine", m.EngineName(), "labels", len(m.Labels()), "auth", *token != "")

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := srv.ReloadNow(context.Background()); err != nil {
				slog.Error("reload failed; still serving the previous model", "err", err)
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
	slog.Info("shutting down: draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), *timeout+5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	srv.Close()
	return current.Close()
}
