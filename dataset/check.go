package dataset

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"sync"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/progress"
)

// Kinds of bad image, as reported in BadImage.Kind and ImageError.Kind.
const (
	BadMissing    = "missing"      // no such file
	BadUnreadable = "unreadable"   // exists but cannot be read (permissions, a directory, I/O)
	BadEmpty      = "empty"        // zero bytes
	BadNotImage   = "not-an-image" // not a supported image format (e.g. text named .jpg)
	BadTooLarge   = "too-large"    // header declares more pixels than allowed (decompression bomb)
	BadCorrupt    = "corrupt"      // undecodable: truncated or damaged
	BadDuplicate  = "duplicate"    // same content (sha256) as an earlier sample's image
)

// BadImage names an image that cannot be used, and why (Kind is one of the kinds above).
//
// Deprecated: use imageio.BadImage; this alias stays for one release.
type BadImage = imageio.BadImage

// ImageError is the error of a bad image under the strict policy.
type ImageError struct {
	Path string
	Kind string
	Err  error
}

func (e *ImageError) Error() string { return fmt.Sprintf("%s: %s: %v", e.Path, e.Kind, e.Err) }
func (e *ImageError) Unwrap() error { return e.Err }

// Is makes every ImageError match errkind.ErrBadInput (a bad image under the strict
// policy is the user's input).
func (e *ImageError) Is(target error) bool { return target == errkind.ErrBadInput }

// CheckOptions controls CheckImages.
type CheckOptions struct {
	// Workers decoding in parallel; 0 means GOMAXPROCS, and never fewer than 2.
	Workers int
	// Strict fails at the first bad image instead of skipping and counting it.
	Strict bool
	// Decode bounds decoding (the pixel limit against decompression bombs).
	Decode imageio.DecodeOptions
	// Progress, when not nil, receives a progress bar.
	Progress io.Writer
}

// ImageInfo is what CheckImages learnt about one sample's image.
type ImageInfo struct {
	OK     bool
	Width  int
	Height int
	SHA256 [sha256.Size]byte
}

// CheckResult is the outcome of CheckImages: per-sample information (in sample order) and
// the bad images (in sample order).
type CheckResult struct {
	Info []ImageInfo
	Bad  []BadImage
}

// Good returns the indices of the samples whose image is usable.
func (r *CheckResult) Good() []int {
	var idx []int
	for i, in := range r.Info {
		if in.OK {
			idx = append(idx, i)
		}
	}
	return idx
}

// CheckImages opens and fully decodes every sample's image, in parallel, to find the
// missing, unreadable, empty, non-image, oversized (by header, before decoding),
// truncated and duplicated (same sha256 as an earlier sample's image) ones. By default
// bad images are counted and named in the result; with opt.Strict the first bad image
// found ends the check with an *ImageError.
func CheckImages(ctx context.Context, d *Dataset, opt CheckOptions) (*CheckResult, error) {
	n := len(d.Samples)
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(workers, 2)
	res := &CheckResult{Info: make([]ImageInfo, n)}
	bad := make([]*BadImage, n)
	var bar *progress.Bar
	if opt.Progress != nil {
		bar = progress.New(opt.Progress, "checking images", int64(n), "images")
		defer bar.Finish()
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		firstIdx = n
	)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				s := d.Samples[i]
				p := samplePath(s)
				info, kind, err := checkOne(p, opt.Decode)
				res.Info[i] = info
				if err != nil {
					bad[i] = &BadImage{Index: i, Path: p, Image: s.Image, Kind: kind, Reason: kind + ": " + err.Error()}
					if opt.Strict {
						mu.Lock()
						if i < firstIdx {
							firstIdx, firstErr = i, &ImageError{Path: p, Kind: kind, Err: err}
						}
						mu.Unlock()
						cancel()
					}
				}
				bar.Add(1)
			}
		}()
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-cctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	first := map[[sha256.Size]byte]int{}
	for i := range n {
		if !res.Info[i].OK {
			continue
		}
		h := res.Info[i].SHA256
		if j, dup := first[h]; dup {
			p := samplePath(d.Samples[i])
			err := fmt.Errorf("same content as %s", samplePath(d.Samples[j]))
			if opt.Strict {
				return nil, &ImageError{Path: p, Kind: BadDuplicate, Err: err}
			}
			res.Info[i].OK = false
			bad[i] = &BadImage{Index: i, Path: p, Image: d.Samples[i].Image, Kind: BadDuplicate, Reason: BadDuplicate + ": " + err.Error()}
			continue
		}
		first[h] = i
	}
	for _, b := range bad {
		if b != nil {
			res.Bad = append(res.Bad, *b)
		}
	}
	return res, nil
}

func samplePath(s Sample) string {
	if s.Path != "" {
		return s.Path
	}
	return s.Image
}

// checkOne reads and decodes one image, classifying any failure.
func checkOne(path string, dopt imageio.DecodeOptions) (ImageInfo, string, error) {
	var info ImageInfo
	data, err := imageio.ReadFile(path) // a file, or an image inside a tar shard
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return info, BadMissing, errors.New("no such file")
		}
		return info, BadUnreadable, err
	}
	img, err := imageio.DecodeBytes(data, dopt)
	if err != nil {
		switch {
		case errors.Is(err, imageio.ErrEmpty):
			return info, BadEmpty, errors.New("zero-byte file")
		case errors.Is(err, imageio.ErrUnknownFmt):
			return info, BadNotImage, err
		case errors.Is(err, imageio.ErrTooLarge):
			return info, BadTooLarge, err
		default:
			return info, BadCorrupt, err
		}
	}
	b := img.Bounds()
	info.OK, info.Width, info.Height = true, b.Dx(), b.Dy()
	info.SHA256 = sha256.Sum256(data)
	return info, "", nil
}

// DropBadImages checks the images of d (see CheckImages) and returns the dataset of the
// usable ones with the list of bad ones; under opt.Strict a bad image is an error.
func DropBadImages(ctx context.Context, d *Dataset, opt CheckOptions) (*Dataset, []BadImage, error) {
	r, err := CheckImages(ctx, d, opt)
	if err != nil {
		return nil, nil, err
	}
	out := d.Subset(r.Good())
	out.Unannotated = append([]string(nil), d.Unannotated...)
	return out, r.Bad, nil
}
