// Package bench measures the whole path from image files to features against the bare
// model: for each backbone, images/s of a bare ONNX Runtime session on pre-made tensors
// (the ceiling), the project's engine on the same tensors, the project end to end (files
// → decode → resize → engine → features, through featcache.Extract and the pipelined
// loader), PyTorch end to end with its own loader (DataLoader + PIL, an external script)
// and the pure-Go GoMLX engine on a few images; each as a ratio to the ceiling, with the
// achieved GFLOP/s against a GEMM peak measured in the same run, the single-image
// latency (p50/p99) and a sweep of ONNX Runtime settings. `multilabel bench e2e` prints it.
//
// The benchmark is not a test: its figures depend on the machine and on its load, which
// the report records (load average before and after).
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/engine/gomlx"
	"github.com/multilabel/multilabel/engine/ort"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/imageio"
)

// Model is one backbone to measure.
type Model struct {
	Name string `json:"name"`
	Path string `json:"path"` // ONNX file (any form backbone.Load accepts)
	// TorchName is the architecture the PyTorch script builds ("resnet18", "mobilenetv2",
	// "squeezenet1.1"); "" skips PyTorch for this model.
	TorchName string `json:"torch_name,omitempty"`
}

// Options configure Run. Zero values pick the defaults noted.
type Options struct {
	Models    []Model
	Images    []string // image files for the end-to-end passes
	MaxImages int      // images per end-to-end pass; 0: 512 (or all, if fewer)
	Batch     int      // engine batch; 0: 32
	// Threads is ONNX Runtime's intra-op thread count, Workers the image loader's
	// goroutines; 0: runtime.NumCPU() for both. Spin lets idle ONNX Runtime threads
	// busy-wait (its default; off by default here because it steals the loader's cores).
	Threads, Workers int
	Spin             bool
	MinTime          time.Duration // per throughput measurement; 0: 3s
	ORTLib           string
	GoImages         int // images through the pure-Go engine (one batch); 0 skips it
	LatencyRuns      int // single-image runs for p50/p99; 0: 200, < 0 skips
	Settings         bool
	// Python runs TorchScript (scripts/bench_e2e_torch.py) for the PyTorch column; ""
	// skips it.
	Python, TorchScript string
	Log                 io.Writer // progress lines; nil is quiet
}

// Row is one model's line of the table. Rates are images/s; 0 means not measured.
type Row struct {
	Model        string   `json:"model"`
	GFLOPPerImg  float64  `json:"gflop_per_image"`
	Ceiling      float64  `json:"ceiling_bare_ort"`
	Engine       float64  `json:"engine_tensors"`
	EndToEnd     float64  `json:"end_to_end"`
	EndToEndConf string   `json:"end_to_end_config"`
	PyTorch      float64  `json:"pytorch_end_to_end,omitempty"`
	PyTorchNote  string   `json:"pytorch_note,omitempty"`
	GoMLX        float64  `json:"gomlx_tensors,omitempty"`
	LatencyP50   float64  `json:"latency_p50_ms,omitempty"`
	LatencyP99   float64  `json:"latency_p99_ms,omitempty"`
	Errors       []string `json:"errors,omitempty"`
}

// Setting is one measured ONNX Runtime configuration (bare session, pre-made tensors).
type Setting struct {
	Model    string  `json:"model"`
	Name     string  `json:"setting"`
	Value    string  `json:"value"`
	ImagesPS float64 `json:"images_per_s"`
	Relative float64 `json:"relative_to_default"`
	Note     string  `json:"note,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	Rows        []Row     `json:"rows"`
	Settings    []Setting `json:"settings,omitempty"`
	PeakGFLOPS  float64   `json:"peak_gflops"`
	NumCPU      int       `json:"num_cpu"`
	GOMAXPROCS  int       `json:"gomaxprocs"`
	Threads     int       `json:"ort_threads"`
	Workers     int       `json:"loader_workers"`
	Batch       int       `json:"batch"`
	Images      int       `json:"images_per_pass"`
	JPEGDecoder string    `json:"jpeg_decoder"`
	ORTVersion  string    `json:"onnxruntime"`
	LoadBefore  string    `json:"loadavg_before"`
	LoadAfter   string    `json:"loadavg_after"`
	Started     time.Time `json:"started"`
	Elapsed     float64   `json:"elapsed_s"`
}

func (o *Options) defaults() {
	if o.Batch <= 0 {
		o.Batch = 32
	}
	if o.Threads <= 0 {
		o.Threads = runtime.NumCPU()
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.MaxImages <= 0 {
		o.MaxImages = 512
	}
	o.MaxImages = min(o.MaxImages, len(o.Images))
	if o.MinTime <= 0 {
		o.MinTime = 3 * time.Second
	}
	if o.LatencyRuns == 0 {
		o.LatencyRuns = 200
	}
}

// LoadAvg returns the first three fields of /proc/loadavg ("" where unavailable).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Run measures every model; a failing column is recorded in the row's Errors and the
// run goes on. It fails only when nothing can be measured (no ONNX Runtime, no images).
func Run(ctx context.Context, opt Options) (*Report, error) {
	opt.defaults()
	if len(opt.Images) == 0 {
		return nil, errors.New("bench: no images")
	}
	if len(opt.Models) == 0 {
		return nil, errors.New("bench: no models")
	}
	lib, err := ort.FindLibrary(opt.ORTLib)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	opt.ORTLib = lib
	if err := ensureORT(lib); err != nil {
		return nil, fmt.Errorf("bench: ONNX Runtime: %w", err)
	}
	rep := &Report{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Threads: opt.Threads,
		Workers: opt.Workers, Batch: opt.Batch, Images: opt.MaxImages, JPEGDecoder: imageio.FastJPEG(),
		ORTVersion: ort.Version, LoadBefore: LoadAvg(), Started: time.Now()}
	if rep.JPEGDecoder == "" {
		rep.JPEGDecoder = "pure Go"
	}
	opt.logf("peak: GEMM 1024³ in ONNX Runtime, %d threads", opt.Threads)
	rep.PeakGFLOPS, err = PeakGFLOPS(SessionConfig{Threads: opt.Threads}, 1024, opt.MinTime)
	if err != nil {
		return nil, fmt.Errorf("bench: GEMM peak: %w", err)
	}
	for _, m := range opt.Models {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		row, settings := runModel(ctx, &opt, m, &rep.PeakGFLOPS)
		rep.Rows = append(rep.Rows, row)
		rep.Settings = append(rep.Settings, settings...)
	}
	rep.LoadAfter = LoadAvg()
	rep.Elapsed = time.Since(rep.Started).Seconds()
	return rep, nil
}

func runModel(ctx context.Context, opt *Options, m Model, peak *float64) (Row, []Setting) {
	row := Row{Model: m.Name}
	fail := func(what string, err error) {
		row.Errors = append(row.Errors, fmt.Sprintf("%s: %v", what, err))
		opt.logf("%s: %s: %v", m.Name, what, err)
	}
	bb, err := backbone.Load(m.Path, backbone.Options{})
	if err != nil {
		fail("load", err)
		return row, nil
	}
	model, err := bb.FeatureModel()
	if err != nil {
		fail("feature model", err)
		return row, nil
	}
	spec := bb.Spec
	outShape := []int64{int64(bb.FeatureDim)}
	if f, err := CountFLOPs(model, bb.Input, bb.InputShape); err != nil {
		fail("FLOPs", err)
	} else {
		row.GFLOPPerImg = f / 1e9
	}

	// Pre-made tensors: the first Batch images, preprocessed.
	B := opt.Batch
	tl := spec.TensorLen()
	x := make([]float32, max(B, maxSweepBatch)*tl)
	for i := range max(B, maxSweepBatch) {
		if i >= B { // beyond the batch (for the batch-size sweep): repeat
			copy(x[i*tl:(i+1)*tl], x[(i%B)*tl:])
			continue
		}
		if err := imageio.LoadFile(opt.Images[i%len(opt.Images)], spec, x[i*tl:(i+1)*tl], imageio.DecodeOptions{}); err != nil {
			fail("pre-made tensors", err)
			return row, nil
		}
	}

	inName, outName, err := ioNames(model)
	if err != nil {
		fail("model inputs", err)
		return row, nil
	}
	bare := func(c SessionConfig, batch int, dur time.Duration) (float64, error) {
		s, err := newBareSession(model, c, inName, outName, bb.InputShape, outShape, batch, x[:batch*tl])
		if err != nil {
			return 0, err
		}
		defer s.close()
		rate, err := timeRuns(s.run, 2, dur)
		return rate * float64(batch), err
	}
	eng, err := ort.Open(model, ort.Options{LibPath: opt.ORTLib, IntraOpThreads: opt.Threads, NoSpinning: !opt.Spin})
	if err != nil {
		fail("engine", err)
		return row, nil
	}
	defer eng.Close()
	// The ceiling is the better of a spinning and a non-spinning bare session.
	var bares []*bareSession
	for _, c := range []SessionConfig{{Threads: opt.Threads}, {Threads: opt.Threads, NoSpin: true}} {
		s, err := newBareSession(model, c, inName, outName, bb.InputShape, outShape, B, x[:B*tl])
		if err != nil {
			fail("bare ORT", err)
			return row, nil
		}
		defer s.close()
		bares = append(bares, s)
	}
	paths := opt.Images[:opt.MaxImages]
	xo := featcache.ExtractOptions{BatchSize: B, Workers: opt.Workers}
	e2eOK := true
	if _, err := featcache.Extract(ctx, eng, bb, paths[:min(B, len(paths))], xo); err != nil { // warm-up
		fail("end to end", err)
		e2eOK = false
	}
	// Ceiling, engine and end to end are measured in interleaved rounds, each keeping its
	// best round, so a burst of load on a shared machine does not favour one of them.
	const rounds = 3
	win := opt.MinTime / rounds
	engRun := func() error { _, err := eng.Run(ctx, x[:B*tl], B); return err }
	for r := range rounds {
		if p, err := PeakGFLOPS(SessionConfig{Threads: opt.Threads}, 1024, win/2); err == nil && p > *peak {
			*peak = p // the GEMM peak keeps its best window over the whole run
		}
		opt.logf("%s: round %d/%d: bare ONNX Runtime, engine on pre-made tensors, end to end over %d files (batch %d)", m.Name, r+1, rounds, len(paths), B)
		for _, s := range bares {
			if rate, err := timeRuns(s.run, 2, win); err != nil {
				fail("bare ORT", err)
			} else {
				row.Ceiling = max(row.Ceiling, rate*float64(B))
			}
		}
		if rate, err := timeRuns(engRun, 2, win); err != nil {
			fail("engine", err)
		} else {
			row.Engine = max(row.Engine, rate*float64(B))
		}
		if e2eOK {
			t0 := time.Now()
			f, err := featcache.Extract(ctx, eng, bb, paths, xo)
			if err == nil && len(f.Bad) > 0 {
				err = fmt.Errorf("%d unusable images, first %s: %s", len(f.Bad), f.Bad[0].Path, f.Bad[0].Reason)
			}
			if err != nil {
				fail("end to end", err)
				e2eOK = false
			} else {
				row.EndToEnd = max(row.EndToEnd, float64(len(paths))/time.Since(t0).Seconds())
			}
		}
	}
	bu0 := budget{opt.Threads, opt.Workers, opt.Spin}
	if row.EndToEnd > 0 {
		row.EndToEndConf = fmt.Sprintf("%s, batch %d, GOMAXPROCS %d", bu0, B, runtime.GOMAXPROCS(0))
	}
	var e2eSettings []Setting
	if opt.Settings && row.EndToEnd > 0 {
		e2eSettings = append(e2eSettings, Setting{Model: m.Name, Name: "end-to-end budget", Value: bu0.String(), ImagesPS: row.EndToEnd, Relative: 1})
		for _, bu := range []budget{{opt.Threads, opt.Workers, !opt.Spin}, {opt.Threads, max(1, opt.Workers/2), opt.Spin}, {max(1, opt.Threads/2), opt.Workers, opt.Spin}} {
			opt.logf("%s: end to end, %s", m.Name, bu)
			r, err := endToEnd(ctx, opt, bb, model, paths, bu)
			if err != nil {
				fail("end to end ("+bu.String()+")", err)
				continue
			}
			e2eSettings = append(e2eSettings, Setting{Model: m.Name, Name: "end-to-end budget", Value: bu.String(), ImagesPS: r, Relative: r / row.EndToEnd})
		}
	}

	// Single-image latency: file -> features, batch 1.
	if opt.LatencyRuns > 0 {
		opt.logf("%s: latency, %d single-image runs", m.Name, opt.LatencyRuns)
		p50, p99, err := latency(ctx, eng, spec, opt.Images, opt.LatencyRuns)
		if err != nil {
			fail("latency", err)
		}
		row.LatencyP50, row.LatencyP99 = p50, p99
	}

	// PyTorch end to end.
	if opt.Python != "" && m.TorchName != "" {
		opt.logf("%s: PyTorch end to end", m.Name)
		r, note, err := runTorch(ctx, opt, m, paths)
		if err != nil {
			fail("PyTorch", err)
		}
		row.PyTorch, row.PyTorchNote = r, note
	}

	// Pure Go on a few images.
	if opt.GoImages > 0 {
		opt.logf("%s: pure-Go GoMLX engine, %d images", m.Name, opt.GoImages)
		n := min(opt.GoImages, B)
		ge, err := gomlx.Open(model, gomlx.Options{MaxBatch: n})
		if err == nil {
			err = ge.Compile(n)
			if err == nil {
				t0 := time.Now()
				_, err = ge.Run(ctx, x[:n*tl], n)
				row.GoMLX = float64(n) / time.Since(t0).Seconds()
			}
			ge.Close()
		}
		if err != nil {
			fail("GoMLX", err)
			row.GoMLX = 0
		}
	}

	settings := e2eSettings
	if opt.Settings {
		def := bares[1] // the non-spinning session
		if opt.Spin {
			def = bares[0]
		}
		settings = append(settings, sweep(ctx, opt, m, bb, model, x, tl, bare, def)...)
	}
	return row, settings
}

// budget is how the cores are shared between ONNX Runtime and the image loader.
type budget struct {
	threads, workers int
	spin             bool
}

func (b budget) String() string {
	return fmt.Sprintf("%d ORT threads (spinning %v), %d loader workers", b.threads, b.spin, b.workers)
}

// endToEnd measures files -> features through featcache.Extract with a budget (its own
// engine): the best pass over paths (after a warm-up batch) while MinTime lasts.
func endToEnd(ctx context.Context, opt *Options, bb *backbone.Backbone, model []byte, paths []string, bu budget) (float64, error) {
	eng, err := ort.Open(model, ort.Options{LibPath: opt.ORTLib, IntraOpThreads: bu.threads, NoSpinning: !bu.spin})
	if err != nil {
		return 0, err
	}
	defer eng.Close()
	xo := featcache.ExtractOptions{BatchSize: opt.Batch, Workers: bu.workers}
	if _, err := featcache.Extract(ctx, eng, bb, paths[:min(opt.Batch, len(paths))], xo); err != nil {
		return 0, err
	}
	best := 0.0
	for t0 := time.Now(); best == 0 || time.Since(t0) < opt.MinTime; {
		t1 := time.Now()
		f, err := featcache.Extract(ctx, eng, bb, paths, xo)
		if err != nil {
			return 0, err
		}
		if len(f.Bad) > 0 {
			return 0, fmt.Errorf("%d unusable images, first %s: %s", len(f.Bad), f.Bad[0].Path, f.Bad[0].Reason)
		}
		best = max(best, float64(len(paths))/time.Since(t1).Seconds())
	}
	return best, nil
}

// latency times runs single images (read, decode, resize, engine), cycling over paths,
// and returns p50 and p99 in milliseconds.
func latency(ctx context.Context, eng *ort.Engine, spec imageio.Spec, paths []string, runs int) (float64, float64, error) {
	dst := make([]float32, spec.TensorLen())
	one := func(p string) error {
		if err := imageio.LoadFile(p, spec, dst, imageio.DecodeOptions{}); err != nil {
			return err
		}
		_, err := eng.Run(ctx, dst, 1)
		return err
	}
	if err := one(paths[0]); err != nil { // warm-up
		return 0, 0, err
	}
	ms := make([]float64, runs)
	for i := range runs {
		t0 := time.Now()
		if err := one(paths[i%len(paths)]); err != nil {
			return 0, 0, err
		}
		ms[i] = time.Since(t0).Seconds() * 1000
	}
	slices.Sort(ms)
	return percentile(ms, 0.50), percentile(ms, 0.99), nil
}

// percentile of sorted values, nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// ReadList reads image paths, one per line (blank lines and # comments skipped).
func ReadList(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out, sc.Err()
}
