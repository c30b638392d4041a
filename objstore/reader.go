package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"gocloud.dev/blob"

	"github.com/multilabel/multilabel/errkind"
)

// DefaultSkip is Reader.Skip's default: a forward Seek of at most this many bytes reads
// through the open stream instead of starting a new request.
const DefaultSkip = 1 << 20

// Reader reads one object without downloading it whole: sequential Reads stream it
// through one ranged request, held open from the current offset to the end (memory: the
// HTTP client's buffers); a forward Seek of at most Skip bytes reads through that
// stream, a longer one (or a backward one) closes it and the next Read opens a new
// range there; ReadAt reads one range. A request that fails (to open, or mid-stream) is
// retried from the offset reached, with the Store's backoff; when the attempts are
// spent the error names the object and the offset, and matches errkind.ErrUnavailable
// (errkind.ErrBadInput for a missing object or a refused permission). Read and Seek
// are for one goroutine; ReadAt is safe for concurrent use.
type Reader struct {
	s    *Store
	ctx  context.Context
	b    *blob.Bucket
	key  string
	url  string
	size int64
	// Skip bounds the forward seeks served from the open stream (0: DefaultSkip; < 0:
	// every seek starts a new request).
	Skip int64

	mu   sync.Mutex // guards the fields below, for Close
	pos  int64
	body *blob.Reader
	// Requests counts the ranged requests opened (retries included).
	Requests int
}

// Open opens the object at rawURL for reading by ranges (its size is read first).
func (s *Store) Open(ctx context.Context, rawURL string) (*Reader, error) {
	b, key, err := s.bucket(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	var size int64
	err = s.retry(ctx, "opening "+rawURL, func() error {
		a, err := b.Attributes(ctx, key)
		if err != nil {
			return err
		}
		size = a.Size
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return &Reader{s: s, ctx: ctx, b: b, key: key, url: rawURL, size: size}, nil
}

// unavailable marks a failure that is not the user's input as ErrUnavailable.
func unavailable(err error) error {
	if err == nil || errkind.IsBadInput(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return errkind.WrapUnavailable(err)
}

// Size is the object's size in bytes.
func (r *Reader) Size() int64 { return r.size }

// URL is the object's URL.
func (r *Reader) URL() string { return r.url }

// Read reads from the current offset, streaming.
func (r *Reader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	err := r.s.retry(r.ctx, fmt.Sprintf("reading %s at byte %d", r.url, r.pos), func() error {
		if r.body == nil {
			body, err := r.b.NewRangeReader(r.ctx, r.key, r.pos, -1, nil)
			r.Requests++
			if err != nil {
				return err
			}
			r.body = body
		}
		k, err := r.body.Read(p)
		n = k
		r.pos += int64(k)
		if err == nil || (err == io.EOF && r.pos >= r.size) || k > 0 {
			if err != nil && k > 0 && err != io.EOF {
				r.closeBody() // a failed stream: the next Read reopens it
			}
			return nil
		}
		r.closeBody()
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the stream ended before the object did
		}
		return err
	})
	if err != nil {
		return n, unavailable(err)
	}
	if n == 0 && r.pos >= r.size {
		return 0, io.EOF
	}
	return n, nil
}

func (r *Reader) closeBody() {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
}

// Seek sets the offset of the next Read.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var to int64
	switch whence {
	case io.SeekStart:
		to = offset
	case io.SeekCurrent:
		to = r.pos + offset
	case io.SeekEnd:
		to = r.size + offset
	default:
		return r.pos, fmt.Errorf("objstore: %s: seek whence %d", r.url, whence)
	}
	if to < 0 {
		return r.pos, fmt.Errorf("objstore: %s: seek to %d", r.url, to)
	}
	skip := r.Skip
	if skip == 0 {
		skip = DefaultSkip
	}
	if d := to - r.pos; d > 0 && d <= skip && r.body != nil {
		k, err := io.CopyN(io.Discard, r.body, d)
		r.pos += k
		if err == nil {
			return r.pos, nil
		}
		r.closeBody() // read the rest from a new range
	} else if d != 0 {
		r.closeBody()
	}
	r.pos = to
	return r.pos, nil
}

// ReadAt reads len(p) bytes at off with one ranged request (retried).
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > r.size {
		return 0, fmt.Errorf("objstore: %s: range %d+%d beyond the object's %d bytes: %w", r.url, off, len(p), r.size, io.EOF)
	}
	var n int
	err := r.s.retry(r.ctx, fmt.Sprintf("reading %s bytes %d+%d", r.url, off, len(p)), func() error {
		body, err := r.b.NewRangeReader(r.ctx, r.key, off, int64(len(p)), nil)
		r.mu.Lock()
		r.Requests++
		r.mu.Unlock()
		if err != nil {
			return err
		}
		defer body.Close()
		n, err = io.ReadFull(body, p)
		return err
	})
	return n, unavailable(err)
}

// Close closes the open stream, if any.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeBody()
	return nil
}
