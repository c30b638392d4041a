package pipeline_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/internal/sharedtest"
	"github.com/multilabel/multilabel/pipeline"
	"github.com/multilabel/multilabel/train"
)

// TestTrainFeaturesMeasure measures the whole `train --features` run (label file
// parsing, split, join, streamed head training, thresholds, metrics, bundle) on a
// synthetic features output of MULTILABEL_FEATURES_MEASURE rows × 512 float32 (e.g.
// 2000000: a 4 GB .npy) made for SqueezeNet 1.1 from ../shared, 10 labels, one epoch
// (batch 1024), split 98/2 with a 2% validation share: it prints the rows/s of the
// training phase and the peak resident set (VmHWM) of the process. The files are written
// streamed (memory stays low) into MULTILABEL_FEATURES_MEASURE_DIR (default a temporary
// folder) and kept there for reruns. Skipped unless MULTILABEL_FEATURES_MEASURE is set;
// run it alone in its process.
func TestTrainFeaturesMeasure(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("MULTILABEL_FEATURES_MEASURE"))
	if err != nil || n <= 0 {
		t.Skip("set MULTILABEL_FEATURES_MEASURE=ROWS to measure")
	}
	bbPath := filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	bb, err := backbone.Load(bbPath, backbone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const dim, classes = 512, 10
	dir := os.Getenv("MULTILABEL_FEATURES_MEASURE_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	npy := filepath.Join(dir, fmt.Sprintf("feat-%d.npy", n))
	labels := filepath.Join(dir, fmt.Sprintf("labels-%d.csv", n))
	if _, err := os.Stat(featcache.ManifestPath(npy)); err != nil {
		t0 := time.Now()
		writeSyntheticFeatures(t, npy, labels, n, dim, classes, featcache.KeyOf(bb))
		t.Logf("wrote %s and %s in %.0fs", npy, labels, time.Since(t0).Seconds())
	}
	tc := train.DefaultConfig()
	tc.Epochs, tc.BatchSize, tc.Patience = 1, 1024, 0
	cfg := pipeline.TrainConfig{Data: labels, Backbone: bbPath, Features: npy, Split: []float64{0.98, 0.02}, ValFraction: 0.02,
		Seed: 1, Train: tc, Out: filepath.Join(dir, "m.mlb"), Logger: slog.New(rssHandler{slog.NewTextHandler(os.Stderr, nil)})}
	t0 := time.Now()
	res, err := pipeline.Train(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	total := time.Since(t0).Seconds()
	t.Logf("%d rows × %d: splits %d/%d/%d; whole run %.1fs, features file checks %.1fs, training %.1fs (%.0f training rows/s over 1 epoch incl. the streamed checks and moments), test mAP %.4f; peak RSS %s",
		n, dim, res.Splits.Train, res.Splits.Val, res.Splits.Test, total, res.FeatureSeconds, res.TrainSeconds,
		float64(res.Splits.Train)/res.TrainSeconds, res.Test.MAP, vmHWM())
}

// writeSyntheticFeatures writes a features output (npy, names, manifest) of n rows and a
// list-layout label file naming them: label k is on with probability 1/2, and feature j
// is a standard normal plus 1 when label j mod classes is on.
func writeSyntheticFeatures(t *testing.T, npy, labels string, n, dim, classes int, key featcache.ModelKey) {
	t.Helper()
	open := func(p string) (*os.File, *bufio.Writer) {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		return f, bufio.NewWriterSize(f, 1<<20)
	}
	nf, nw := open(npy)
	names := featcache.NamesPath(npy)
	mf, mw := open(names)
	lf, lw := open(labels)
	hn, hm := sha256.New(), sha256.New()
	nout, mout := io.MultiWriter(nw, hn), io.MultiWriter(mw, hm)
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", n, dim)
	header += strings.Repeat(" ", (64-(10+len(header)+1)%64)%64) + "\n"
	h := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(h[8:], uint16(len(header)))
	nout.Write(append(h, header...))
	lw.WriteString("image,labels\n")
	rng := rand.New(rand.NewPCG(1, 2))
	y := make([]bool, classes)
	b := make([]byte, 4*dim)
	idx := make([]int, n)
	for i := range n {
		idx[i] = i
		name := fmt.Sprintf("img%08d.jpg", i)
		var on []string
		for k := range y {
			y[k] = rng.IntN(2) == 1
			if y[k] {
				on = append(on, fmt.Sprintf("l%d", k))
			}
		}
		fmt.Fprintf(lw, "%s,%s\n", name, strings.Join(on, "|"))
		fmt.Fprintf(mout, "%s\n", name)
		for j := range dim {
			v := float32(rng.NormFloat64())
			if y[j%classes] {
				v++
			}
			binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(v))
		}
		nout.Write(b)
	}
	for _, fw := range []struct {
		f *os.File
		w *bufio.Writer
	}{{nf, nw}, {mf, mw}, {lf, lw}} {
		if err := fw.w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := fw.f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	m := featcache.Manifest{Version: 1, Kind: "features", ModelKey: key, Total: n, Selected: n, Rows: n, Dim: dim, Index: idx,
		NPYSHA256: hex.EncodeToString(hn.Sum(nil)), NamesSHA256: hex.EncodeToString(hm.Sum(nil))}
	mb, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(featcache.ManifestPath(npy), mb, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rssHandler adds the peak resident set so far to every log line (where memory goes).
type rssHandler struct{ slog.Handler }

func (h rssHandler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(slog.String("peak_rss", vmHWM()), slog.String("rss", procStatus("VmRSS:")))
	return h.Handler.Handle(ctx, r)
}

// vmHWM is the process's peak resident set from /proc/self/status.
func vmHWM() string { return procStatus("VmHWM:") }

// procStatus is the value of field (e.g. "VmRSS:") in /proc/self/status.
func procStatus(field string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			return strings.Join(strings.Fields(l)[1:], " ")
		}
	}
	return "?"
}
