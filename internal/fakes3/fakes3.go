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
	Ranged   atomic.Int64 // requests with a Range header (reads of part of an object)
	BytesOut atomic.Int64 // bytes of response bodies written
}

// counting counts the bytes of a response body.
type counting struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c counting) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n.Add(int64(n))
	return n, err
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
		if r.Header.Get("Range") != "" {
			s.Ranged.Add(1)
		}
		h.ServeHTTP(counting{w, &s.BytesOut}, r)
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
