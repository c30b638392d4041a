// Package objstore reads and writes the files of a run in object storage through
// gocloud.dev/blob: s3:// (AWS S3 and S3-protocol servers), gs:// (Google Cloud
// Storage; build tag "gcs"), azblob:// (Azure Blob Storage; build tag "azure") and
// file:// (a local directory, for tests and shared file systems). Credentials come from each cloud's standard environment
// (AWS_ACCESS_KEY_ID / AWS_PROFILE / instance roles; GOOGLE_APPLICATION_CREDENTIALS;
// AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or a managed identity).
//
// A URL is scheme://bucket/key?options, the options being the driver's (for S3:
// region, endpoint, use_path_style, disable_https, anonymous, profile). Every request is
// retried with exponential backoff on errors that may be transient (Options); other
// errors (not found, permission denied, bad argument) fail at once. Errors name the URL
// and match errkind.ErrBadInput when the user's input is at fault (no such bucket or
// object, a malformed URL, missing credentials).
//
// Writes are atomic from a reader's point of view: an object is uploaded in one request
// (or one multi-part upload) that publishes it only when complete; a failed or
// cancelled upload leaves no object at the key.
package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"

	"github.com/multilabel/multilabel/errkind"
)

// drivers says which schemes this binary has a driver for: s3 and file always; gs with
// the build tag "gcs", azblob with "azure" (each adds about 15 MB to the binary).
var drivers = map[string]bool{"s3": true, "file": true}

// Schemes lists the URL schemes the package opens.
var Schemes = []string{"s3", "gs", "azblob", "file"}

// IsURL reports whether p is an object-store URL (one of Schemes, then "://").
func IsURL(p string) bool {
	s, _, ok := strings.Cut(p, "://")
	if !ok {
		return false
	}
	for _, k := range Schemes {
		if s == k {
			return true
		}
	}
	return false
}

// Options configure the retries of a Store.
type Options struct {
	// Attempts is the number of tries of one request; 0 means 4.
	Attempts int
	// Backoff is the wait before the second try, doubled before each next one; 0 means
	// 200ms.
	Backoff time.Duration
}

// Store opens buckets and runs requests with retries. Its zero value is usable.
type Store struct {
	Options
	buckets map[string]*blob.Bucket
}

// New returns a Store with opt.
func New(opt Options) *Store { return &Store{Options: opt} }

// Close closes the buckets the store opened.
func (s *Store) Close() error {
	var errs []error
	for _, b := range s.buckets {
		errs = append(errs, b.Close())
	}
	s.buckets = nil
	return errors.Join(errs...)
}

// split parses rawURL into the bucket URL (scheme, host and query) and the key.
func split(rawURL string) (bucketURL, key string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil || !IsURL(rawURL) {
		return "", "", errkind.BadInput("objstore: %q is not a storage URL (want %s://bucket/key)", rawURL, strings.Join(Schemes, "://, "))
	}
	if u.Scheme == "file" {
		// file:///abs/dir/key: the bucket is the directory, the key the base name, so
		// that a listing of the directory works like a prefix listing.
		dir, base := filepath.Split(u.Path)
		return "file://" + dir + "?" + u.RawQuery, base, nil
	}
	if u.Host == "" {
		return "", "", errkind.BadInput("objstore: %q has no bucket name", rawURL)
	}
	return u.Scheme + "://" + u.Host + "?" + u.RawQuery, strings.TrimPrefix(u.Path, "/"), nil
}

// bucket opens (once) the bucket of rawURL and returns it with the key.
func (s *Store) bucket(ctx context.Context, rawURL string) (*blob.Bucket, string, error) {
	bu, key, err := split(rawURL)
	if err != nil {
		return nil, "", err
	}
	if b, ok := s.buckets[bu]; ok {
		return b, key, nil
	}
	b, err := openBucket(ctx, bu)
	if err != nil {
		return nil, "", errkind.WrapBadInput(fmt.Errorf("objstore: opening the bucket of %s: %w", rawURL, err))
	}
	if s.buckets == nil {
		s.buckets = map[string]*blob.Bucket{}
	}
	s.buckets[bu] = b
	return b, key, nil
}

// openBucket opens a bucket URL. S3 buckets get a client whose own retries are off, so
// that Store's retry policy is the only one (one documented backoff, testable); the
// other schemes go through their registered URL openers.
func openBucket(ctx context.Context, bu string) (*blob.Bucket, error) {
	u, err := url.Parse(bu)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "s3":
		q := u.Query()
		var opts []func(*s3.Options)
		for key, set := range map[string]func(o *s3.Options, v bool){
			"use_path_style": func(o *s3.Options, v bool) { o.UsePathStyle = v },
			"disable_https":  func(o *s3.Options, v bool) { o.EndpointOptions.DisableHTTPS = v },
		} {
			if v := q.Get(key); v != "" {
				q.Del(key)
				b, err := strconv.ParseBool(v)
				if err != nil {
					return nil, fmt.Errorf("%s=%q: %w", key, v, err)
				}
				opts = append(opts, func(o *s3.Options) { set(o, b) })
			}
		}
		cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
		if err != nil {
			return nil, err
		}
		opts = append(opts, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
		return s3blob.OpenBucket(ctx, s3.NewFromConfig(cfg, opts...), u.Host, nil)
	case "file":
		return fileblob.OpenBucket(u.Path, &fileblob.Options{CreateDir: true, NoTempDir: false})
	}
	if !drivers[u.Scheme] {
		tag := map[string]string{"gs": "gcs", "azblob": "azure"}[u.Scheme]
		return nil, fmt.Errorf("%s:// needs a binary built with -tags %s (the official image has it)", u.Scheme, tag)
	}
	return blob.OpenBucket(ctx, bu)
}

// noCredentials reports whether err says the client found no credentials (the AWS
// SDK's credential chain came up empty: no variables, no profile, no instance role).
func noCredentials(err error) bool {
	m := err.Error()
	return strings.Contains(m, "get credentials:") || strings.Contains(m, "failed to retrieve credentials") ||
		strings.Contains(m, "failed to refresh cached credentials")
}

// credentialHint names what to set when a URL of scheme found no credentials.
func credentialHint(rawURL string) string {
	switch {
	case strings.HasPrefix(rawURL, "s3://"):
		return "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or run with an instance or pod role), or add ?anonymous=true for a public bucket"
	case strings.HasPrefix(rawURL, "gs://"):
		return "set GOOGLE_APPLICATION_CREDENTIALS (or run with a service account)"
	case strings.HasPrefix(rawURL, "azblob://"):
		return "set AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY (or a managed identity)"
	}
	return "set the cloud's credentials"
}

// permanent reports whether err will not go away by retrying.
func permanent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if noCredentials(err) {
		return true
	}
	if errors.As(err, new(localErr)) {
		return true
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound, gcerrors.PermissionDenied, gcerrors.InvalidArgument, gcerrors.FailedPrecondition, gcerrors.AlreadyExists, gcerrors.Unimplemented:
		return true
	}
	return false
}

// retry runs op until it succeeds, fails permanently or has used the attempts.
func (s *Store) retry(ctx context.Context, what string, op func() error) error {
	attempts, wait := s.Attempts, s.Backoff
	if attempts <= 0 {
		attempts = 4
	}
	if wait <= 0 {
		wait = 200 * time.Millisecond
	}
	var err error
	for a := 1; ; a++ {
		if err = op(); err == nil {
			return nil
		}
		if permanent(err) {
			break
		}
		if a == attempts {
			err = fmt.Errorf("after %d attempts: %w", attempts, err)
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("objstore: %s: %w", what, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
	if noCredentials(err) {
		return errkind.BadInput("objstore: %s: no credentials: %s (%v)", what, credentialHint(what[strings.Index(what, " ")+1:]), err)
	}
	err = fmt.Errorf("objstore: %s: %w", what, err)
	switch gcerrors.Code(err) {
	case gcerrors.NotFound, gcerrors.PermissionDenied, gcerrors.InvalidArgument:
		return errkind.WrapBadInput(err)
	}
	return err
}

// ReadAll returns the object at rawURL.
func (s *Store) ReadAll(ctx context.Context, rawURL string) ([]byte, error) {
	b, key, err := s.bucket(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	var data []byte
	err = s.retry(ctx, "reading "+rawURL, func() error {
		var err error
		data, err = b.ReadAll(ctx, key)
		return err
	})
	return data, err
}

// Exists reports whether an object is at rawURL.
func (s *Store) Exists(ctx context.Context, rawURL string) (bool, error) {
	b, key, err := s.bucket(ctx, rawURL)
	if err != nil {
		return false, err
	}
	var ok bool
	err = s.retry(ctx, "looking up "+rawURL, func() error {
		var err error
		ok, err = b.Exists(ctx, key)
		return err
	})
	return ok, err
}

// Write uploads data to rawURL. The object appears at the key only once complete: a
// failed attempt is aborted (its context cancelled before Close), which publishes
// nothing.
func (s *Store) Write(ctx context.Context, rawURL string, data []byte) error {
	b, key, err := s.bucket(ctx, rawURL)
	if err != nil {
		return err
	}
	return s.retry(ctx, "writing "+rawURL, func() error {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		w, err := b.NewWriter(wctx, key, nil)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
			cancel() // abort: no object is published
			w.Close()
			return err
		}
		return w.Close()
	})
}

// Delete removes the object at rawURL; a missing one is not an error.
func (s *Store) Delete(ctx context.Context, rawURL string) error {
	b, key, err := s.bucket(ctx, rawURL)
	if err != nil {
		return err
	}
	return s.retry(ctx, "deleting "+rawURL, func() error {
		if err := b.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return err
		}
		return nil
	})
}

// List returns the URLs of the objects whose key starts with the key of prefixURL, in
// key order.
func (s *Store) List(ctx context.Context, prefixURL string) ([]string, error) {
	b, prefix, err := s.bucket(ctx, prefixURL)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(prefixURL, "?"+queryOf(prefixURL))
	base = strings.TrimSuffix(base, prefix)
	var out []string
	err = s.retry(ctx, "listing "+prefixURL, func() error {
		out = out[:0]
		it := b.List(&blob.ListOptions{Prefix: prefix})
		for {
			o, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if !o.IsDir {
				u := base + o.Key
				if q := queryOf(prefixURL); q != "" {
					u += "?" + q
				}
				out = append(out, u)
			}
		}
	})
	return out, err
}

func queryOf(rawURL string) string {
	_, q, _ := strings.Cut(rawURL, "?")
	return q
}

// Download copies the object at rawURL to the local file dst (atomically: a temporary
// file renamed into place), streaming: memory holds one buffer, not the object.
func (s *Store) Download(ctx context.Context, rawURL, dst string) error {
	b, key, err := s.bucket(ctx, rawURL)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("objstore: downloading %s: %w", rawURL, err)
	}
	tmp := dst + ".part"
	err = s.retry(ctx, "reading "+rawURL, func() error {
		r, err := b.NewReader(ctx, key, nil)
		if err != nil {
			return err
		}
		defer r.Close()
		f, err := os.Create(tmp)
		if err != nil {
			return localErr{err}
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return localErr{err}
		}
		return nil
	})
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("objstore: downloading %s: %w", rawURL, err)
	}
	return nil
}

// Upload copies the local file src to rawURL, streaming (see Write: a failed attempt
// publishes nothing).
func (s *Store) Upload(ctx context.Context, src, rawURL string) error {
	b, key, err := s.bucket(ctx, rawURL)
	if err != nil {
		return err
	}
	return s.retry(ctx, "writing "+rawURL, func() error {
		f, err := os.Open(src)
		if err != nil {
			return localErr{err}
		}
		defer f.Close()
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		w, err := b.NewWriter(wctx, key, nil)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, f); err != nil {
			cancel() // abort: no object is published
			w.Close()
			return err
		}
		return w.Close()
	})
}

// localErr is a local file error inside a transfer: not retried.
type localErr struct{ err error }

func (e localErr) Error() string { return e.err.Error() }
func (e localErr) Unwrap() error { return e.err }
