package dataset

import "context"

// LoadContext is Load that gives up when ctx ends: it returns ctx's error at once (a
// command stops promptly on SIGINT/SIGTERM), while the read itself runs to its end in
// the background and its result is dropped. Label sources are bounded (see
// Options.MaxLabels and the 4 GiB file limit), so that background work is too.
func LoadContext(ctx context.Context, path string, opt Options) (*Dataset, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		d   *Dataset
		err error
	}
	ch := make(chan result, 1)
	go func() {
		d, err := Load(path, opt)
		ch <- result{d, err}
	}()
	select {
	case r := <-ch:
		return r.d, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
