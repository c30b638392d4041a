package main

import (
	"context"
	"os"
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

// localOut is where the output bound for out is written.
func (r *remote) localOut(out string) string {
	if r == nil || !objstore.IsURL(out) {
		return out
	}
	return r.st.LocalOutput(out)
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
