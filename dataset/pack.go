package dataset

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/fsutil"
)

// DefaultShardSize is PackOptions.ShardSize when it is 0.
const DefaultShardSize = 512 << 20

// PackOptions configure Pack.
type PackOptions struct {
	// Pattern names the shards: a printf pattern with one integer verb, e.g.
	// "shards/train-%06d.tar" (shard numbers start at 0).
	Pattern string
	// ShardSize closes a shard once it holds this many bytes (a shard holds at least one
	// sample); 0 means DefaultShardSize.
	ShardSize int64
	// Strict fails on the first unreadable image instead of skipping it.
	Strict bool
}

// PackResult says what Pack wrote.
type PackResult struct {
	Shards  []string `json:"shards"`
	Samples int      `json:"samples"`
	Bytes   int64    `json:"bytes"`
	// Skipped lists the samples left out ("image: why").
	Skipped []string `json:"skipped"`
}

// Pack writes d as WebDataset tar shards (see the "wds" format): the vocabulary first in
// every shard, then per sample KEY.EXT (the image file's bytes, unchanged, with its
// original extension) and KEY.json (the labels, the original image reference). Keys are
// the sample's position in d, zero-padded to nine digits, so the shards keep d's order.
// Each shard is written to a temporary file and renamed into place when complete, so a
// killed run leaves only complete shards. Unreadable images are skipped and listed.
// The output is deterministic (no times, owners or modes from the input files).
func Pack(ctx context.Context, d *Dataset, opt PackOptions) (*PackResult, error) {
	if err := checkPattern(opt.Pattern); err != nil {
		return nil, err
	}
	if opt.ShardSize <= 0 {
		opt.ShardSize = DefaultShardSize
	}
	vocab, err := json.Marshal(struct {
		Labels []string `json:"labels"`
	}{d.Labels})
	if err != nil {
		return nil, err
	}
	res := &PackResult{Skipped: []string{}}
	next := 0
	for shardNo := 0; next < len(d.Samples); shardNo++ {
		name := fmt.Sprintf(opt.Pattern, shardNo)
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return nil, fmt.Errorf("dataset: pack: %w", err)
		}
		var written int64
		count := 0
		err := fsutil.WriteWith(name, 0o644, func(w io.Writer) error {
			cw := &countWriter{w: w}
			tw := tar.NewWriter(cw)
			if err := addMember(tw, VocabularyMember, vocab); err != nil {
				return err
			}
			for ; next < len(d.Samples) && (count == 0 || cw.n < opt.ShardSize); next++ {
				if err := ctx.Err(); err != nil {
					return err
				}
				s := d.Samples[next]
				img, err := imageio.ReadFile(s.Path)
				if err != nil {
					if opt.Strict {
						return fmt.Errorf("%w: %s: %w", ErrBadOption, s.Image, err)
					}
					res.Skipped = append(res.Skipped, s.Image+": "+err.Error())
					continue
				}
				ext := strings.ToLower(filepath.Ext(s.Image))
				if !imageio.HasImageExt(ext) {
					ext = map[string]string{"jpeg": ".jpg", "png": ".png", "gif": ".gif", "bmp": ".bmp", "webp": ".webp", "tiff": ".tif"}[imageio.Sniff(img)]
					if ext == "" {
						res.Skipped = append(res.Skipped, s.Image+": not a known image format")
						continue
					}
				}
				js, err := sampleMember(d, s)
				if err != nil {
					return err
				}
				key := fmt.Sprintf("%09d", next)
				if err := addMember(tw, key+ext, img); err != nil {
					return err
				}
				if err := addMember(tw, key+".json", js); err != nil {
					return err
				}
				count++
			}
			if err := tw.Close(); err != nil {
				return err
			}
			written = cw.n
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("dataset: pack %s: %w", name, err)
		}
		if count == 0 && len(res.Shards) > 0 {
			os.Remove(name) // only skipped samples were left: no empty trailing shard
			continue
		}
		res.Shards = append(res.Shards, name)
		res.Samples += count
		res.Bytes += written
	}
	return res, nil
}

func sampleMember(d *Dataset, s Sample) ([]byte, error) {
	j := sampleJSON{Image: s.Image, Labels: []string{}}
	for k, t := range s.Truth {
		switch t {
		case Positive:
			j.Labels = append(j.Labels, d.Labels[k])
		case Unknown:
			j.Unknown = append(j.Unknown, d.Labels[k])
		}
	}
	return json.Marshal(j)
}

func addMember(tw *tar.Writer, name string, data []byte) error {
	h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if len(name) < 100 {
		h.Format = tar.FormatUSTAR
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// checkPattern checks that pattern has one integer verb giving distinct .tar names.
func checkPattern(pattern string) error {
	a, b := fmt.Sprintf(pattern, 0), fmt.Sprintf(pattern, 1)
	if a == b || strings.Contains(a, "%!") || strings.Count(pattern, "%")-2*strings.Count(pattern, "%%") != 1 {
		return fmt.Errorf("%w: shard pattern %q: want one integer verb, e.g. shards/train-%%06d.tar", ErrBadOption, pattern)
	}
	if !IsShardPattern(a) {
		return fmt.Errorf("%w: shard pattern %q: the names must end in .tar", ErrBadOption, pattern)
	}
	return nil
}
