// Package stage moves a run's inputs from object storage to local files and its outputs
// back: a label file or WebDataset tar shards (--data), the images a label file names
// (--images), and the files of a features output (.npy, names, manifest). Inputs are
// downloaded into a local directory (disk, not memory: one object in memory at a time per
// worker); outputs are uploaded data files first and the manifest last, after the old
// manifest is deleted, so a reader never sees a complete-looking output that is not.
package stage

import (
	"context"
	"io"

	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/objstore"
	"github.com/multilabel/multilabel/shard"
)

// Stager downloads into Dir through Store.
type Stager struct {
	Store *objstore.Store
	// Dir is the local staging directory.
	Dir string
	// Workers is the number of parallel downloads of images; 0 means 8.
	Workers int
	// Shard, when set, limits the images Dataset downloads to those of this shard
	// (shard.Spec.Has of the sample's image name): a worker stages its share only. The
	// dataset still lists every sample; the others keep a path that is not downloaded.
	Shard shard.Spec

	mu      sync.Mutex
	readers []*objstore.Reader // the tar shards read by range (Dataset)
	unreg   []func()
}

// Close closes the tar shards Dataset opened for reading by range (their member paths
// are unreadable afterwards).
func (s *Stager) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.unreg {
		u()
	}
	for _, r := range s.readers {
		r.Close()
	}
	s.readers, s.unreg = nil, nil
	return nil
}

// remoteShards lists the tar shards at the URL pattern data without downloading them:
// each is streamed once through an objstore.Reader (image data skipped by range when a
// member is large), and its members are left in the bucket, read by range when an image
// is loaded (imageio.RegisterArchive). Memory holds the listing, not the shards; the
// local disk holds nothing.
func (s *Stager) remoteShards(ctx context.Context, data string, opt dataset.Options) (*dataset.Dataset, error) {
	urls, err := s.expand(ctx, data)
	if err != nil {
		return nil, err
	}
	full := map[string]string{}
	names := make([]string, len(urls))
	for i, u := range urls {
		names[i], _ = splitQuery(u)
		full[names[i]] = u
	}
	open := func(name string) (io.ReadSeekCloser, error) {
		r, err := s.Store.Open(ctx, full[name])
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.readers = append(s.readers, r)
		s.unreg = append(s.unreg, imageio.RegisterArchive(name, r))
		s.mu.Unlock()
		return r, nil
	}
	d, err := dataset.LoadShards(names, open, opt)
	if err != nil {
		return nil, err
	}
	d.Source = data
	return d, nil
}

// splitQuery separates "s3://b/k?opts" into "s3://b/k" and "?opts" (or "").
func splitQuery(u string) (string, string) {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i], u[i:]
	}
	return u, ""
}

// local is where the object at u is staged.
func (s *Stager) local(u string) string {
	base, _ := splitQuery(u)
	_, rest, _ := strings.Cut(base, "://")
	return filepath.Join(s.Dir, "in", filepath.FromSlash(rest))
}

// Fetch downloads the object at u (a URL) and returns its local path.
func (s *Stager) Fetch(ctx context.Context, u string) (string, error) {
	dst := s.local(u)
	if err := s.Store.Download(ctx, u, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// expand expands a URL pattern: brace ranges, then glob characters in the last path
// element matched against a listing of its prefix.
func (s *Stager) expand(ctx context.Context, pattern string) ([]string, error) {
	base, q := splitQuery(pattern)
	names, err := dataset.ExpandBraces(base)
	if err != nil {
		return nil, errkind.BadInput("%s: %v", pattern, err)
	}
	var out []string
	for _, n := range names {
		if !strings.ContainsAny(n, "*?[") {
			out = append(out, n+q)
			continue
		}
		dir, glob := path.Split(n)
		if strings.ContainsAny(dir, "*?[") {
			return nil, errkind.BadInput("%s: glob characters only in the last path element", pattern)
		}
		all, err := s.Store.List(ctx, dir+q)
		if err != nil {
			return nil, err
		}
		var hit int
		for _, u := range all {
			b, _ := splitQuery(u)
			name, under := strings.CutPrefix(b, dir)
			if ok, _ := path.Match(glob, name); ok && under && !strings.Contains(name, "/") {
				out = append(out, u)
				hit++
			}
		}
		if hit == 0 {
			return nil, errkind.BadInput("%s matches no object", n)
		}
	}
	return out, nil
}

// Dataset reads the label source data with opt, either of which may be in object
// storage: data a URL (a label file, or tar shards with brace ranges and globs) and
// opt.ImagesDir a URL prefix (images resolved against it are downloaded). Images missing
// from the bucket are left missing locally and reported by the usual checks.
func (s *Stager) Dataset(ctx context.Context, data string, opt dataset.Options) (*dataset.Dataset, error) {
	if objstore.IsURL(data) && (dataset.IsShardPattern(data) || isTar(data)) && !objstore.IsURL(opt.ImagesDir) {
		return s.remoteShards(ctx, data, opt)
	}
	d, _, _, err := s.stage(ctx, data, opt)
	return d, err
}

// Stage is Dataset for a command that loads the label source itself (train, eval): it
// downloads what Dataset downloads and returns the local label source and the options
// that read it (ImagesDir pointing at the downloaded images when opt.ImagesDir was a URL).
// A label file URL without ImagesDir resolves its images against the file's folder in
// the bucket.
func (s *Stager) Stage(ctx context.Context, data string, opt dataset.Options) (string, dataset.Options, error) {
	_, local, lopt, err := s.stage(ctx, data, opt)
	return local, lopt, err
}

func (s *Stager) stage(ctx context.Context, data string, opt dataset.Options) (*dataset.Dataset, string, dataset.Options, error) {
	if objstore.IsURL(data) && opt.ImagesDir == "" && !dataset.IsShardPattern(data) && !isTar(data) {
		base, q := splitQuery(data)
		opt.ImagesDir = base[:strings.LastIndexByte(base, '/')+1] + q // path.Dir would clean "s3://"
	}
	d, local, opt, err := s.load(ctx, data, opt)
	if err != nil {
		return nil, "", opt, err
	}
	return d, local, opt, nil
}

func isTar(u string) bool {
	base, _ := splitQuery(u)
	return strings.HasSuffix(strings.ToLower(base), ".tar")
}

func (s *Stager) load(ctx context.Context, data string, opt dataset.Options) (*dataset.Dataset, string, dataset.Options, error) {
	local := data
	if objstore.IsURL(data) {
		urls, err := s.expand(ctx, data)
		if err != nil {
			return nil, "", opt, err
		}
		var files []string
		for _, u := range urls {
			f, err := s.Fetch(ctx, u)
			if err != nil {
				return nil, "", opt, err
			}
			files = append(files, f)
		}
		local = files[0]
		if len(files) > 1 || dataset.IsShardPattern(data) {
			local = filepath.Join(filepath.Dir(files[0]), "*.tar")
			if len(files) > 1 && !sameDir(files) {
				return nil, "", opt, errkind.BadInput("%s: the shards must be in one folder", data)
			}
		}
	}
	imagesURL := ""
	if objstore.IsURL(opt.ImagesDir) {
		imagesURL = opt.ImagesDir
		opt.ImagesDir = filepath.Join(s.Dir, "images")
	}
	d, err := dataset.Load(local, opt)
	if err != nil {
		return nil, "", opt, err
	}
	d.Source = data
	if imagesURL != "" {
		if err := s.fetchImages(ctx, d, imagesURL, opt.ImagesDir); err != nil {
			return nil, "", opt, err
		}
	}
	return d, local, opt, nil
}

func sameDir(files []string) bool {
	for _, f := range files {
		if filepath.Dir(f) != filepath.Dir(files[0]) {
			return false
		}
	}
	return true
}

// fetchImages downloads the image of every sample from prefix + its reference into dir.
func (s *Stager) fetchImages(ctx context.Context, d *dataset.Dataset, prefix, dir string) error {
	base, q := splitQuery(prefix)
	base = strings.TrimSuffix(base, "/") + "/"
	workers := s.Workers
	if workers <= 0 {
		workers = 8
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				img := filepath.ToSlash(d.Samples[i].Image)
				dst := filepath.Join(dir, filepath.FromSlash(img))
				err := s.Store.Download(ctx, base+img+q, dst)
				if err != nil && !errkind.IsBadInput(err) { // a missing image is reported later, as missing
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
				}
				d.Samples[i].Path = dst
			}
		}()
	}
	for i, smp := range d.Samples {
		if ctx.Err() != nil {
			break
		}
		if !s.Shard.Has(filepath.ToSlash(smp.Image)) {
			d.Samples[i].Path = filepath.Join(dir, filepath.FromSlash(filepath.ToSlash(smp.Image)))
			continue
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// FetchOutput downloads the features output at u (its .npy, names and manifest; any may
// be missing) and returns the local .npy path, for featcache.Complete or MergeShards.
func (s *Stager) FetchOutput(ctx context.Context, u string) (string, error) {
	base, q := splitQuery(u)
	local := s.local(u)
	for _, f := range []struct{ url, dst string }{
		{featcache.ManifestPath(base) + q, featcache.ManifestPath(local)},
		{base + q, local},
		{featcache.NamesPath(base) + q, featcache.NamesPath(local)},
	} {
		if err := s.Store.Download(ctx, f.url, f.dst); err != nil {
			if errkind.IsBadInput(err) {
				os.Remove(f.dst)
				continue // missing: the output is incomplete
			}
			return "", err
		}
	}
	return local, nil
}

// LocalOutput is where a features output bound for u is written before PublishOutput.
func (s *Stager) LocalOutput(u string) string {
	base, _ := splitQuery(u)
	_, rest, _ := strings.Cut(base, "://")
	return filepath.Join(s.Dir, "out", filepath.FromSlash(rest))
}

// PublishOutput uploads the features output written at local to u: the old manifest is
// deleted first, then the names file and the .npy are uploaded, the manifest last.
func (s *Stager) PublishOutput(ctx context.Context, local, u string) error {
	base, q := splitQuery(u)
	if err := s.Store.Delete(ctx, featcache.ManifestPath(base)+q); err != nil {
		return err
	}
	for _, f := range []struct{ src, url string }{
		{featcache.NamesPath(local), featcache.NamesPath(base) + q},
		{local, base + q},
		{featcache.ManifestPath(local), featcache.ManifestPath(base) + q},
	} {
		if err := s.Store.Upload(ctx, f.src, f.url); err != nil {
			return err
		}
	}
	return nil
}

// Publish uploads the local file local to u (one object, streamed).
func (s *Stager) Publish(ctx context.Context, local, u string) error {
	return s.Store.Upload(ctx, local, u)
}

// FetchRows downloads the row output at u (a CSV of predict --out or eval
// --predictions-out, and its manifest; either may be missing) and returns the local
// path, for shard.RowsComplete.
func (s *Stager) FetchRows(ctx context.Context, u string) (string, error) {
	base, q := splitQuery(u)
	local := s.LocalOutput(u)
	for _, f := range []struct{ url, dst string }{
		{shard.ManifestPath(base) + q, shard.ManifestPath(local)},
		{base + q, local},
	} {
		if err := s.Store.Download(ctx, f.url, f.dst); err != nil {
			if errkind.IsBadInput(err) {
				os.Remove(f.dst)
				continue
			}
			return "", err
		}
	}
	return local, nil
}

// PublishRows uploads the row output written at local (shard.WriteRows) to u: the old
// manifest is deleted first, the rows uploaded, the manifest last.
func (s *Stager) PublishRows(ctx context.Context, local, u string) error {
	base, q := splitQuery(u)
	if err := s.Store.Delete(ctx, shard.ManifestPath(base)+q); err != nil {
		return err
	}
	if err := s.Publish(ctx, local, base+q); err != nil {
		return err
	}
	if _, err := os.Stat(shard.ManifestPath(local)); err != nil {
		return nil // an output without a manifest (none was written)
	}
	return s.Publish(ctx, shard.ManifestPath(local), shard.ManifestPath(base)+q)
}

// PublishDir uploads every file under the local directory dir to the URL prefix u
// (a report folder), keeping the relative paths.
func (s *Stager) PublishDir(ctx context.Context, dir, u string) error {
	base, q := splitQuery(u)
	base = strings.TrimSuffix(base, "/") + "/"
	return filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("stage: publishing %s: %w", dir, err)
		}
		if de.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return fmt.Errorf("stage: publishing %s: %w", p, err)
		}
		return s.Publish(ctx, p, base+filepath.ToSlash(rel)+q)
	})
}
