package imageio

import (
	"context"
	"errors"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// loaderFiles writes n small images of distinct flat colors plus bad files at fixed
// positions; bad[i] is true for the bad ones.
func loaderFiles(t *testing.T, n int) (paths []string, bad map[int]error) {
	dir := t.TempDir()
	bad = map[int]error{3: ErrUnknownFmt, 7: ErrEmpty, 8: fs.ErrNotExist, 12: ErrCorrupt}
	for i := range n {
		p := filepath.Join(dir, "img"+string(rune('a'+i))+".png")
		switch bad[i] {
		case ErrUnknownFmt:
			os.WriteFile(p, []byte("not an image"), 0o644)
		case ErrEmpty:
			os.WriteFile(p, nil, 0o644)
		case fs.ErrNotExist:
		case ErrCorrupt:
			b := pngBytes(t, quadrants())
			os.WriteFile(p, b[:len(b)/2], 0o644)
		default:
			m := image.NewNRGBA(image.Rect(0, 0, 20+i, 15))
			for j := 0; j < len(m.Pix); j += 4 {
				m.Pix[j], m.Pix[j+1], m.Pix[j+2], m.Pix[j+3] = uint8(10*i), uint8(255-10*i), 100, 255
			}
			if err := os.WriteFile(p, pngBytes(t, m), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		paths = append(paths, p)
	}
	return paths, bad
}

func TestLoaderOrderAndBadItems(t *testing.T) {
	t.Parallel()
	paths, bad := loaderFiles(t, 17)
	s := Spec{Width: 8, Height: 6, Resize: ResizeShorterCrop, ChannelOrder: "RGB", Scale: 255, Layout: "NCHW"}
	tl := s.TensorLen()
	for _, aug := range []*Augment{nil, {HFlip: 0.5, Brightness: 0.3}} {
		l := NewLoader(context.Background(), paths, s, LoaderOptions{Workers: 3, Prefetch: 2, BatchSize: 5, Augment: aug, Seed: 9, Epoch: 2})
		next := 0
		for {
			b, err := l.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Start != next || b.N != min(5, len(paths)-next) || len(b.Data) != b.N*tl {
				t.Fatalf("batch start %d n %d len %d, want start %d", b.Start, b.N, len(b.Data), next)
			}
			for i := 0; i < b.N; i++ {
				idx := b.Start + i
				slot := b.Data[i*tl : (i+1)*tl]
				if want, isBad := bad[idx]; isBad {
					if !errors.Is(b.Errs[i], want) {
						t.Errorf("item %d: err %v, want %v", idx, b.Errs[i], want)
					}
					if slices.ContainsFunc(slot, func(v float32) bool { return v != 0 }) {
						t.Errorf("item %d: bad item's slot not zeroed", idx)
					}
					continue
				}
				if b.Errs[i] != nil {
					t.Fatalf("item %d: %v", idx, b.Errs[i])
				}
				want := make([]float32, tl)
				img, err := DecodeFile(paths[idx], DecodeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if aug != nil {
					aug.Fill(img, s, 9, 2, idx, want)
				} else {
					s.Fill(img, want)
				}
				if !slices.Equal(slot, want) {
					t.Fatalf("item %d: loader slot differs from a direct fill", idx)
				}
			}
			next += b.N
			l.Release(b)
		}
		l.Close()
		if next != len(paths) {
			t.Fatalf("got %d items, want %d", next, len(paths))
		}
		if made := l.made.Load(); made > 3 {
			t.Errorf("%d batch buffers allocated with Prefetch 2 and one held at a time, want <= 3", made)
		}
	}
}

func TestLoaderCancel(t *testing.T) {
	paths, _ := loaderFiles(t, 17)
	many := slices.Repeat(paths, 20)
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	s := Spec{Width: 8, Height: 6, Resize: ResizeSquish, ChannelOrder: "RGB", Scale: 1, Layout: "NHWC"}
	l := NewLoader(ctx, many, s, LoaderOptions{Workers: 2, Prefetch: 2, BatchSize: 4})
	b, err := l.Next()
	if err != nil {
		t.Fatal(err)
	}
	l.Release(b)
	cancel()
	for range 1000 {
		b, err = l.Next()
		if err != nil {
			break
		}
		l.Release(b)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: err %v, want context.Canceled", err)
	}
	l.Close()
	l.Close() // idempotent
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > base {
		t.Errorf("%d goroutines after Close, %d before NewLoader", g, base)
	}
}

func TestLoaderEarlyCloseAndBadSpec(t *testing.T) {
	t.Parallel()
	paths, _ := loaderFiles(t, 17)
	l := NewLoader(context.Background(), paths, Spec{Width: 8, Height: 6, Resize: ResizeSquish, ChannelOrder: "RGB", Scale: 1, Layout: "NCHW"}, LoaderOptions{})
	l.Close() // without reading anything: must not hang
	l = NewLoader(context.Background(), paths, Spec{}, LoaderOptions{})
	if _, err := l.Next(); err == nil || err == io.EOF {
		t.Errorf("invalid spec: err %v", err)
	}
	l.Close()
	l = NewLoader(context.Background(), nil, ImageNetSpec(), LoaderOptions{})
	if _, err := l.Next(); err != io.EOF {
		t.Errorf("no paths: err %v, want io.EOF", err)
	}
	l.Close()
}
