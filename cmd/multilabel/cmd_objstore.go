package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/multilabel/multilabel/dataset"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/objstore"
	"github.com/multilabel/multilabel/shard"
	"github.com/multilabel/multilabel/stage"
)

// remote stages a command's object-storage paths (s3://, gs://, azblob://, file://)
// through a local temporary directory. A nil *remote means every path is local; its
// methods then do the local thing.
type remote struct {
	st *stage.Stager
}

// newRemote returns a remote when any of paths is a URL, else nil.
func newRemote(paths ...string) (*remote, error) {
	for _, p := range paths {
		if objstore.IsURL(p) {
			dir, err := os.MkdirTemp("", "multilabel-stage-")
			if err != nil {
				return nil, err
			}
			return &remote{st: &stage.Stager{Store: objstore.New(objstore.Options{}), Dir: dir}}, nil
		}
	}
	return nil, nil
}

func (r *remote) close() {
	if r != nil {
		r.st.Close()
		r.st.Store.Close()
		os.RemoveAll(r.st.Dir)
	}
}

// load reads the label source with the reader flags (staging it when remote).
func (r *remote) load(ctx context.Context, rf *readerFlags, data string) (*dataset.Dataset, error) {
	if r == nil || (!objstore.IsURL(data) && !objstore.IsURL(rf.images)) {
		return rf.load(ctx, data)
	}
	if data == "" {
		return nil, usageErrorf("--data is required")
	}
	d, err := r.st.Dataset(ctx, data, rf.options())
	if err != nil {
		if isBadInput(err) {
			return nil, badInput(err)
		}
		return nil, err
	}
	return d, nil
}

// shardOut is spec.OutputName for a path or a URL (whose query is kept at the end).
func shardOut(spec shard.Spec, out string) string {
	if i := strings.IndexByte(out, '?'); i >= 0 && objstore.IsURL(out) {
		return spec.OutputName(out[:i]) + out[i:]
	}
	return spec.OutputName(out)
}

// complete is featcache.Complete for a local or remote output.
func (r *remote) complete(ctx context.Context, out string, key featcache.ModelKey, spec shard.Spec, total int) (bool, error) {
	if r == nil || !objstore.IsURL(out) {
		return featcache.Complete(out, key, spec, total), nil
	}
	local, err := r.st.FetchOutput(ctx, out)
	if err != nil {
		return false, err
	}
	return featcache.Complete(local, key, spec, total), nil
}

// localOut is where the output bound for out is written; its folder is created (a
// failure shows when the output is written there, naming the path).
func (r *remote) localOut(out string) string {
	if r == nil || !objstore.IsURL(out) {
		return out
	}
	p := r.st.LocalOutput(out)
	_ = os.MkdirAll(filepath.Dir(p), 0o755)
	return p
}

// publish uploads a remote output written at local.
func (r *remote) publish(ctx context.Context, local, out string) error {
	if r == nil || !objstore.IsURL(out) {
		return nil
	}
	return r.st.PublishOutput(ctx, local, out)
}

// fetchOutput returns a local copy of a features output (itself when local).
func (r *remote) fetchOutput(ctx context.Context, out string) (string, error) {
	if r == nil || !objstore.IsURL(out) {
		return out, nil
	}
	return r.st.FetchOutput(ctx, out)
}

// fetch returns a local copy of the file at p (p itself when local).
func (r *remote) fetch(ctx context.Context, p string) (string, error) {
	if r == nil || !objstore.IsURL(p) {
		return p, nil
	}
	local, err := r.st.Fetch(ctx, p)
	if err != nil && isBadInput(err) {
		return "", badInput(err)
	}
	return local, err
}

// stageErr keeps a staging error's kind: bad input (a missing object, a bad pattern)
// exits 2, the rest (the store unreachable) 1.
func stageErr(err error) error {
	if err != nil && isBadInput(err) {
		return badInput(err)
	}
	return err
}

// stageData replaces each non-empty label source in paths (--data, --val, --test) that
// is a URL, or whose images (rf.images) are, by a local copy, downloading the images it
// names, and points rf.images at the local images of the first one; for commands that
// load the label sources themselves.
func (r *remote) stageData(ctx context.Context, rf *readerFlags, paths ...*string) error {
	if r == nil {
		return nil
	}
	imagesURL := rf.images
	first := true
	for _, p := range paths {
		if *p == "" || (!objstore.IsURL(*p) && !objstore.IsURL(imagesURL)) {
			continue
		}
		f := *rf
		f.images = imagesURL
		local, lopt, err := r.st.Stage(ctx, *p, f.options())
		if err != nil {
			return stageErr(err)
		}
		*p = local
		if first {
			rf.images, first = lopt.ImagesDir, false
		}
	}
	return nil
}

// fetchIn is fetch for an optional input flag: "" stays "".
func (r *remote) fetchIn(ctx context.Context, p *string) error {
	if *p == "" {
		return nil
	}
	local, err := r.fetch(ctx, *p)
	if err != nil {
		return err
	}
	*p = local
	return nil
}

// publishFile uploads a one-file output written at local (a bundle, an ONNX graph).
func (r *remote) publishFile(ctx context.Context, local, out string) error {
	if r == nil || !objstore.IsURL(out) {
		return nil
	}
	return r.st.Publish(ctx, local, out)
}

// rowsOut returns where a row output (predict --out, eval --predictions-out) bound for
// out is written: out itself when local, else a local copy of what is already there (so
// a complete shard is seen as complete).
func (r *remote) rowsOut(ctx context.Context, out string) (string, error) {
	if r == nil || !objstore.IsURL(out) {
		return out, nil
	}
	return r.st.FetchRows(ctx, out)
}

// publishRows uploads a row output written at local, its manifest last.
func (r *remote) publishRows(ctx context.Context, local, out string) error {
	if r == nil || !objstore.IsURL(out) {
		return nil
	}
	return r.st.PublishRows(ctx, local, out)
}

// publishDir uploads a report directory written at local to the prefix out.
func (r *remote) publishDir(ctx context.Context, local, out string) error {
	if r == nil || !objstore.IsURL(out) {
		return nil
	}
	return r.st.PublishDir(ctx, local, out)
}

// fetchBackbone is fetchIn for --backbone: an ONNX file URL is downloaded with the spec
// sidecars beside it when they exist (F.onnx.json, F.json; see backbone.Resolve). A zoo
// name or a local path stays as it is.
func (r *remote) fetchBackbone(ctx context.Context, bb *string) error {
	if r == nil || !objstore.IsURL(*bb) {
		return nil
	}
	u := *bb
	if err := r.fetchIn(ctx, bb); err != nil {
		return err
	}
	base, q, _ := strings.Cut(u, "?")
	if q != "" {
		q = "?" + q
	}
	side := []string{base + ".json"}
	if ext := path.Ext(base); ext != "" && ext != ".json" {
		side = append(side, strings.TrimSuffix(base, ext)+".json")
	}
	for _, s := range side {
		if _, err := r.st.Fetch(ctx, s+q); err != nil && !isBadInput(err) {
			return err // a missing sidecar is fine; an unreachable store is not
		}
	}
	return nil
}

// stageLabels is stageData for a run that reads no image (train --features): a label
// file URL is downloaded alone, tar shards (which carry the labels) are staged, and an
// --images URL is dropped (the images are not read).
func (r *remote) stageLabels(ctx context.Context, rf *readerFlags, paths ...*string) error {
	if r == nil {
		return nil
	}
	if objstore.IsURL(rf.images) {
		rf.images = ""
	}
	for _, p := range paths {
		if !objstore.IsURL(*p) {
			continue
		}
		if isTarURL(*p) {
			local, _, err := r.st.Stage(ctx, *p, rf.options())
			if err != nil {
				return stageErr(err)
			}
			*p = local
			continue
		}
		if err := r.fetchIn(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// isTarURL reports whether p is a URL of tar shards (one .tar, or a pattern of them).
func isTarURL(p string) bool {
	return objstore.IsURL(p) && strings.HasSuffix(strings.ToLower(strings.SplitN(p, "?", 2)[0]), ".tar")
}

// loadRemoteTars lists tar shards in a bucket for a command that trains or evaluates on
// them, reading them by range (stage.Stager.Dataset) instead of downloading them, and
// applies --strict to their images. It returns nil when data is not such a URL (or its
// images are elsewhere in a bucket).
func (r *remote) loadRemoteTars(ctx context.Context, rf *readerFlags, data string, progress io.Writer) (*dataset.Dataset, error) {
	if r == nil || !isTarURL(data) || objstore.IsURL(rf.images) {
		return nil, nil
	}
	d, err := r.st.Dataset(ctx, data, rf.options())
	if err != nil {
		return nil, stageErr(err)
	}
	if rf.strict {
		if len(d.Skipped) > 0 {
			return nil, badInput(fmt.Errorf("%s (--strict: without it unusable samples are skipped and counted)", d.Skipped[0]))
		}
		if err := strictImages(ctx, d, progress); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// byRange reports whether the label source data is tar shards in a bucket that a
// command reads by range (stage.Stager.Dataset) instead of downloading them: their
// images are members of the shards (no --images URL elsewhere).
func (r *remote) byRange(data, images string) bool {
	return r != nil && isTarURL(data) && !objstore.IsURL(images)
}

// loadRemoteTarLabels is loadRemoteTars for a run that reads the labels only (train
// --features): the shards are listed by range, no image is read, and --strict applies
// to the samples the listing skipped. It returns nil when data is not such a URL.
func (r *remote) loadRemoteTarLabels(ctx context.Context, rf *readerFlags, data string) (*dataset.Dataset, error) {
	if !r.byRange(data, "") {
		return nil, nil
	}
	opt := rf.options()
	opt.ImagesDir = "" // the images are not read
	d, err := r.st.Dataset(ctx, data, opt)
	if err != nil {
		return nil, stageErr(err)
	}
	if rf.strict && len(d.Skipped) > 0 {
		return nil, badInput(fmt.Errorf("%s (--strict: without it unusable samples are skipped and counted)", d.Skipped[0]))
	}
	return d, nil
}

// datasetLoader reads a label source for eval: tar shards in a bucket (byRange) are
// listed by range and their images read by range when decoded; anything else (local,
// or staged by stageData) through dataset.Load. Errors are classified: a label source's
// problems are bad input (exit 2), storage failures are not.
type datasetLoader func(data string, opt dataset.Options) (*dataset.Dataset, error)

func (r *remote) loader(ctx context.Context, strict bool) datasetLoader {
	return func(data string, opt dataset.Options) (*dataset.Dataset, error) {
		if !r.byRange(data, opt.ImagesDir) {
			d, err := dataset.Load(data, opt)
			if err != nil {
				return nil, badInput(err)
			}
			return d, nil
		}
		d, err := r.st.Dataset(ctx, data, opt)
		if err != nil {
			return nil, stageErr(err)
		}
		if strict && len(d.Skipped) > 0 {
			return nil, badInput(fmt.Errorf("%s (--strict: without it unusable samples are skipped and counted)", d.Skipped[0]))
		}
		return d, nil
	}
}
