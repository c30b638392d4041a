package featcache_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/imageio"
)

// smallSpec is an 8×8 RGB spec so that the stand-in engine is cheap.
var smallSpec = imageio.Spec{Width: 8, Height: 8, Resize: imageio.ResizeSquish, ChannelOrder: "RGB", Scale: 1, Layout: "NCHW"}

// fakeBackbone carries only what the cache key needs.
func fakeBackbone() *backbone.Backbone {
	return &backbone.Backbone{SHA256: "00ff", FeatureNode: "pool", FeatureDim: 4, Spec: smallSpec}
}

// meanEngine is a stand-in engine: per image, the mean of each channel and of all values.
type meanEngine struct {
	calls  atomic.Int32
	images atomic.Int32
	onRun  func(call int) // called before each Run (after counting)
}

func (e *meanEngine) Name() string         { return "mean" }
func (e *meanEngine) InputShape() []int64  { return smallSpec.Shape() }
func (e *meanEngine) OutputShape() []int64 { return []int64{4} }
func (e *meanEngine) Close() error         { return nil }
func (e *meanEngine) Run(ctx context.Context, in []float32, n int) ([]float32, error) {
	c := int(e.calls.Add(1))
	if e.onRun != nil {
		e.onRun(c)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tl := smallSpec.TensorLen()
	if len(in) != n*tl {
		return nil, fmt.Errorf("bad input %d", len(in))
	}
	e.images.Add(int32(n))
	out := make([]float32, 4*n)
	for i := range n {
		x := in[i*tl : (i+1)*tl]
		for c := range 3 {
			s := float32(0)
			for _, v := range x[c*64 : (c+1)*64] {
				s += v
			}
			out[4*i+c] = s / 64
			out[4*i+3] += s / float32(tl)
		}
	}
	return out, nil
}

// makeImages writes n random 12×10 PNGs (seeded), a duplicate of the first, and a bad file
// into a temp dir, and returns the paths (good ones first, then the duplicate, then bad).
func makeImages(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, uint64(n)))
	var paths []string
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 12, 10))
		for y := range 10 {
			for x := range 12 {
				img.Set(x, y, color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255})
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("img%03d.png", i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		paths = append(paths, p)
	}
	dup := filepath.Join(dir, "copy-of-img000.png")
	data, _ := os.ReadFile(paths[0])
	os.WriteFile(dup, data, 0o644)
	bad := filepath.Join(dir, "notes.png")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	return append(paths, dup, bad)
}

func mustExtract(t *testing.T, eng *meanEngine, paths []string, opt featcache.ExtractOptions) *featcache.Features {
	t.Helper()
	f, err := featcache.Extract(context.Background(), eng, fakeBackbone(), paths, opt)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestExtractCachesAndReportsBadImages(t *testing.T) {
	t.Parallel()
	paths := makeImages(t, 10)
	c, err := featcache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	eng := &meanEngine{}
	first := mustExtract(t, eng, paths, featcache.ExtractOptions{Cache: c, BatchSize: 4})
	if first.Dim != 4 || len(first.Data) != 4*len(paths) {
		t.Fatalf("Dim %d, %d values", first.Dim, len(first.Data))
	}
	// 10 distinct images (the duplicate is run once), 1 bad.
	if first.Misses != 10 || first.Hits != 0 || int(eng.images.Load()) != 10 {
		t.Fatalf("first run: misses %d hits %d engine images %d; want 10, 0, 10", first.Misses, first.Hits, eng.images.Load())
	}
	if len(first.Bad) != 1 || first.Bad[0].Path != paths[11] || first.OK[11] || !first.OK[10] {
		t.Fatalf("bad images %+v, OK %v", first.Bad, first.OK)
	}
	if !slices.Equal(first.Row(0), first.Row(10)) {
		t.Fatal("duplicate image got different features")
	}
	if n, _ := c.Len(featcache.KeyOf(fakeBackbone())); n != 10 {
		t.Fatalf("cache holds %d entries, want 10", n)
	}

	eng2 := &meanEngine{}
	second := mustExtract(t, eng2, paths, featcache.ExtractOptions{Cache: c, BatchSize: 4})
	if second.Misses != 0 || second.Hits != 11 || eng2.calls.Load() != 0 {
		t.Fatalf("second run: misses %d hits %d engine calls %d; want 0, 11, 0", second.Misses, second.Hits, eng2.calls.Load())
	}
	if !slices.Equal(first.Data, second.Data) || len(second.Bad) != 1 {
		t.Fatal("second run differs from the first")
	}

	// Another preprocessing is another key: nothing is reused.
	b := fakeBackbone()
	b.Spec.ChannelOrder = "BGR"
	eng3 := &meanEngine{}
	third, err := featcache.Extract(context.Background(), eng3, b, paths[:3], featcache.ExtractOptions{Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	if third.Hits != 0 || third.Misses != 3 {
		t.Fatalf("other spec: hits %d misses %d, want 0 and 3", third.Hits, third.Misses)
	}
}

func TestExtractStrict(t *testing.T) {
	t.Parallel()
	paths := makeImages(t, 3)
	_, err := featcache.Extract(context.Background(), &meanEngine{}, fakeBackbone(), paths, featcache.ExtractOptions{Strict: true})
	if !errors.Is(err, featcache.ErrBadImage) {
		t.Fatalf("Strict with a bad image: err = %v, want ErrBadImage", err)
	}
	_, err = featcache.Extract(context.Background(), &meanEngine{}, fakeBackbone(), []string{paths[0], "/nonexistent/x.png"}, featcache.ExtractOptions{Strict: true})
	if !errors.Is(err, featcache.ErrBadImage) {
		t.Fatalf("Strict with a missing image: err = %v, want ErrBadImage", err)
	}
	// A missing file is a bad image too.
	f := mustExtract(t, &meanEngine{}, append(paths[:2:2], filepath.Join(t.TempDir(), "gone.jpg")), featcache.ExtractOptions{})
	if len(f.Bad) != 1 || f.Bad[0].Index != 2 {
		t.Fatalf("missing file: bad = %+v", f.Bad)
	}
}

func TestExtractShapeMismatch(t *testing.T) {
	t.Parallel()
	b := fakeBackbone()
	b.Spec.Width = 16
	if _, err := featcache.Extract(context.Background(), &meanEngine{}, b, nil, featcache.ExtractOptions{}); err == nil {
		t.Fatal("engine input 3×8×8 vs spec 16×8: want an error")
	}
}

// TestExtractCancelledThenResumed: a run cancelled after two batches keeps what it
// finished; the resumed run extracts only the rest, and the features equal a clean run.
func TestExtractCancelledThenResumed(t *testing.T) {
	t.Parallel()
	paths := makeImages(t, 12)[:12]
	clean := mustExtract(t, &meanEngine{}, paths, featcache.ExtractOptions{BatchSize: 3})

	c, err := featcache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	eng := &meanEngine{onRun: func(call int) {
		if call == 3 {
			cancel()
		}
	}}
	_, err = featcache.Extract(ctx, eng, fakeBackbone(), paths, featcache.ExtractOptions{Cache: c, BatchSize: 3, Workers: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: err = %v, want context.Canceled", err)
	}
	done, _ := c.Len(featcache.KeyOf(fakeBackbone()))
	if done != 6 {
		t.Fatalf("cancelled run stored %d entries, want 6 (two batches)", done)
	}
	resumed := mustExtract(t, &meanEngine{}, paths, featcache.ExtractOptions{Cache: c, BatchSize: 3})
	if resumed.Hits != 6 || resumed.Misses != 6 {
		t.Fatalf("resumed: hits %d misses %d, want 6 and 6", resumed.Hits, resumed.Misses)
	}
	if !slices.Equal(resumed.Data, clean.Data) {
		t.Fatal("resumed features differ from a clean run")
	}
}

// TestExtractKilledThenResumed runs Extract in a child process that exits abruptly (no
// deferred cleanup) in the middle of its third batch; the cache it leaves is usable.
func TestExtractKilledThenResumed(t *testing.T) {
	if dir := os.Getenv("FEATCACHE_CHILD_CACHE"); dir != "" {
		c, err := featcache.Open(dir)
		if err != nil {
			os.Exit(3)
		}
		var paths []string
		for i := 0; ; i++ {
			p := os.Getenv("FEATCACHE_CHILD_PATH" + strconv.Itoa(i))
			if p == "" {
				break
			}
			paths = append(paths, p)
		}
		eng := &meanEngine{onRun: func(call int) {
			if call == 3 {
				os.Exit(7)
			}
		}}
		featcache.Extract(context.Background(), eng, fakeBackbone(), paths, featcache.ExtractOptions{Cache: c, BatchSize: 2, Workers: 1})
		os.Exit(0)
	}
	paths := makeImages(t, 8)[:8]
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestExtractKilledThenResumed$")
	cmd.Env = append(os.Environ(), "FEATCACHE_CHILD_CACHE="+dir)
	for i, p := range paths {
		cmd.Env = append(cmd.Env, fmt.Sprintf("FEATCACHE_CHILD_PATH%d=%s", i, p))
	}
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("child: %v, want exit status 7", err)
	}
	c, err := featcache.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	resumed := mustExtract(t, &meanEngine{}, paths, featcache.ExtractOptions{Cache: c, BatchSize: 2})
	if resumed.Hits != 4 || resumed.Misses != 4 {
		t.Fatalf("after the kill: hits %d misses %d, want 4 and 4", resumed.Hits, resumed.Misses)
	}
	clean := mustExtract(t, &meanEngine{}, paths, featcache.ExtractOptions{})
	if !slices.Equal(resumed.Data, clean.Data) {
		t.Fatal("features after the kill differ from a clean run")
	}
}

// TestExtractConcurrent: two extractions into the same cache directory at once (as two
// processes would, through separate Cache values) agree, and leave a complete cache.
func TestExtractConcurrent(t *testing.T) {
	t.Parallel()
	paths := makeImages(t, 16)[:16]
	dir := t.TempDir()
	var wg sync.WaitGroup
	res := make([]*featcache.Features, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := featcache.Open(dir)
			if err != nil {
				errs[i] = err
				return
			}
			res[i], errs[i] = featcache.Extract(context.Background(), &meanEngine{}, fakeBackbone(), paths, featcache.ExtractOptions{Cache: c, BatchSize: 3})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res[0].Data, res[1].Data) {
		t.Fatal("concurrent runs disagree")
	}
	c, _ := featcache.Open(dir)
	again := mustExtract(t, &meanEngine{}, paths, featcache.ExtractOptions{Cache: c})
	if again.Misses != 0 || !slices.Equal(again.Data, res[0].Data) {
		t.Fatalf("after concurrent runs: misses %d", again.Misses)
	}
	// No temporary files are left behind.
	tmp, _ := filepath.Glob(filepath.Join(dir, "*", "*", ".*.tmp-*"))
	if len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}
