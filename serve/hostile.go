package serve

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PNGBomb returns a valid PNG of width × height 16-bit RGBA pixels, all zero: a small file
// (8,900 × 8,900 is about 626 KB) whose decoded image is 8 bytes a pixel (634 MB). It is
// the hostile upload of issue 17, for load tests of the decode guards; it takes about a
// second of CPU to compress.
func PNGBomb(width, height int) ([]byte, error) {
	if width <= 0 || height <= 0 || width > 1<<24 || height > 1<<24 {
		return nil, fmt.Errorf("png bomb: %d×%d out of range", width, height)
	}
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(kind string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		out.Write(n[:])
		c := append([]byte(kind), data...)
		out.Write(c)
		binary.BigEndian.PutUint32(n[:], crc32.ChecksumIEEE(c))
		out.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(width))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(height))
	ihdr[8], ihdr[9] = 16, 6 // 16 bits per sample, RGBA
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	// Every row is a filter byte 0 and zero samples: the whole stream is zeros, which
	// the fastest level compresses as well as the best one (about 1,000:1), 4× sooner.
	zw, err := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	if err != nil {
		return nil, err
	}
	zeros := make([]byte, 1<<20)
	for n := int64(height) * int64(1+width*8); n > 0; {
		k := min(n, int64(len(zeros)))
		if _, err := zw.Write(zeros[:k]); err != nil {
			return nil, err
		}
		n -= k
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return out.Bytes(), nil
}

// SlowBodyResult summarises a SlowBodies run.
type SlowBodyResult struct {
	Connections int            `json:"connections"`  // connections opened
	DialErrors  int            `json:"dial_errors"`  // connections the server did not accept
	BytesSent   int64          `json:"bytes_sent"`   // body bytes trickled in all
	Codes       map[string]int `json:"codes"`        // replies received, by status
	Closed      int            `json:"closed_early"` // connections the server closed without a reply
}

// SlowBodies opens n connections to addr (host:port) that each announce a POST
// /v1/predict body of 1 MB and send it one byte every interval, until ctx ends: the
// slow-upload attack of issue 17. It returns when ctx is done and every connection has
// been closed.
func SlowBodies(ctx context.Context, addr string, n int, interval time.Duration) SlowBodyResult {
	res := SlowBodyResult{Codes: map[string]int{}}
	var mu sync.Mutex
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range n {
		conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
		if err != nil {
			res.DialErrors++
			continue
		}
		res.Connections++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			defer stop()
			replied := make(chan string, 1)
			go func() {
				// A reply (408, 413, ...) may come before the body is done.
				buf := make([]byte, 64)
				k, err := io.ReadAtLeast(conn, buf, 12)
				if err != nil || !strings.HasPrefix(string(buf[:k]), "HTTP/1.1 ") {
					replied <- ""
					return
				}
				replied <- string(buf[9:12])
			}()
			fmt.Fprintf(conn, "POST /v1/predict HTTP/1.1\r\nHost: %s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", addr, 1<<20)
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case code := <-replied:
					mu.Lock()
					if code == "" {
						res.Closed++
					} else {
						res.Codes[code]++
					}
					mu.Unlock()
					return
				case <-ctx.Done():
					return
				case <-t.C:
					if _, err := conn.Write([]byte{0xff}); err != nil && !errors.Is(err, net.ErrClosed) {
						code := <-replied
						mu.Lock()
						if code == "" {
							res.Closed++
						} else {
							res.Codes[code]++
						}
						mu.Unlock()
						return
					}
					sent.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res.BytesSent = sent.Load()
	return res
}
