// Package fakes3 starts an in-process S3-protocol server for tests (gofakes3 over
// memory) that can be told to fail requests, and gives the objstore URLs to reach it.
package fakes3

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is a running fake S3 server.
type Server struct {
	*httptest.Server
	fail     atomic.Int64 // requests still to fail with 503
	Requests atomic.Int64 // requests served (failed ones included)
}

// Start starts a server holding the given (empty) buckets; it stops at the end of t.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	be := s3mem.New()
	for _, b := range buckets {
		if err := be.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	s := &Server{}
	h := gofakes3.New(be).Server()
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Requests.Add(1)
		if s.fail.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>injected failure</Message></Error>`))
			return
		}
		s.fail.Store(0)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// FailNext makes the next n requests fail with 503 Slow Down.
func (s *Server) FailNext(n int) { s.fail.Store(int64(n)) }

// URL returns the objstore URL of key in bucket on this server.
func (s *Server) URL(bucket, key string) string {
	return "s3://" + bucket + "/" + key + "?endpoint=" + s.Server.URL + "&use_path_style=true&disable_https=true&anonymous=true&region=us-east-1"
}
