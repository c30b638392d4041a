package train

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multilabel/multilabel/featcache"
	"github.com/multilabel/multilabel/internal/half"
)

// TestFitRowsMeasure measures one epoch of head training from a memory-mapped float16
// .npy (MULTILABEL_FITROWS=mapped) or from the same kind of matrix in memory
// (MULTILABEL_FITROWS=memory), printing rows/s and the peak resident set (VmHWM). Run
// each mode in its own process; MULTILABEL_FITROWS_ROWS sets the row count (default
// 2,000,000 mapped, 200,000 in memory), MULTILABEL_FITROWS_DIR where the file goes.
// Skipped unless MULTILABEL_FITROWS is set.
func TestFitRowsMeasure(t *testing.T) {
	mode := os.Getenv("MULTILABEL_FITROWS")
	if mode == "" {
		t.Skip("set MULTILABEL_FITROWS=mapped|memory to measure")
	}
	const dim, classes = 512, 10
	n := map[string]int{"mapped": 2_000_000, "memory": 200_000}[mode]
	if v, err := strconv.Atoi(os.Getenv("MULTILABEL_FITROWS_ROWS")); err == nil {
		n = v
	}
	rng := rand.New(rand.NewPCG(1, 2))
	y := make([][]int8, n)
	flat := make([]int8, n*classes)
	for i := range y {
		y[i] = flat[i*classes : (i+1)*classes]
		for j := range y[i] {
			y[i][j] = int8(rng.IntN(2))
		}
	}
	row := func(i int, dst []float32) {
		r := rand.New(rand.NewPCG(uint64(i), 3))
		for k := range dst {
			dst[k] = float32(r.NormFloat64()) + float32(y[i][k%classes])
		}
	}
	const nv = 2000
	vaX := make([]float32, nv*dim)
	for i := range nv {
		row(i, vaX[i*dim:(i+1)*dim])
	}
	cfg := DefaultConfig()
	cfg.Epochs, cfg.BatchSize, cfg.Patience = 1, 1024, 0
	ctx := context.Background()
	var res *Result
	var err error
	var start time.Time
	// CPU time of the process (all threads, the backend's included) from the end of the
	// first step to the end of the epoch: the epoch's work without the setup passes, a
	// figure that the machine's load changes less than the wall-clock time.
	var cpu0, cpu1 float64
	var steps int
	cb := Callbacks{
		OnStep: func(step, _ int) {
			if step == 1 {
				cpu0 = cpuSeconds()
			}
			steps = step
		},
		OnEpoch: func(Epoch) { cpu1 = cpuSeconds() },
	}
	switch mode {
	case "mapped":
		dir := os.Getenv("MULTILABEL_FITROWS_DIR")
		if dir == "" {
			dir = t.TempDir()
		}
		p := filepath.Join(dir, fmt.Sprintf("fitrows-%d.npy", n))
		if _, err := os.Stat(p); err != nil {
			writeHalfNPY(t, p, n, dim, row)
		}
		m, err := featcache.OpenMapped(p)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		start = time.Now()
		res, err = FitRows(ctx, cfg, m, n, dim, y, vaX, y[:nv], StreamOptions{Block: DefaultBlock}, cb)
		if err != nil {
			t.Fatal(err)
		}
	case "memory":
		x := make([]float32, n*dim)
		buf := make([]float32, dim)
		for i := range n {
			row(i, buf)
			for k, v := range buf {
				x[i*dim+k] = half.ToFloat32(half.FromFloat32(v))
			}
		}
		start = time.Now()
		res, err = Fit(ctx, cfg, x, y, vaX, y[:nv], dim, cb)
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("MULTILABEL_FITROWS=%q: want mapped or memory", mode)
	}
	sec := time.Since(start).Seconds()
	st, _ := os.ReadFile("/proc/self/status")
	hwm := ""
	for _, l := range strings.Split(string(st), "\n") {
		if strings.HasPrefix(l, "VmHWM") {
			hwm = strings.Join(strings.Fields(l)[1:], " ")
		}
	}
	ep := res.History[0].Seconds
	epochRows := float64(n) * float64(steps-1) / float64(steps)
	fmt.Printf("FITROWS mode=%s rows=%d dim=%d total_s=%.1f rows_per_s=%.0f (with the setup passes) epoch_s=%.1f epoch_rows_per_s=%.0f epoch_cpu_s=%.2f rows_per_cpu_s=%.0f peak_rss=%s backend=%s\n",
		mode, n, dim, sec, float64(n)/sec, ep, float64(n)/ep, cpu1-cpu0, epochRows/(cpu1-cpu0), hwm, res.Backend)
}

// writeHalfNPY writes an n × dim '<f2' .npy a row at a time.
func writeHalfNPY(t *testing.T, p string, n, dim int, row func(int, []float32)) {
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	header := fmt.Sprintf("{'descr': '<f2', 'fortran_order': False, 'shape': (%d, %d), }", n, dim)
	header += strings.Repeat(" ", (64-(10+len(header)+1)%64)%64) + "\n"
	bw := bufio.NewWriterSize(f, 1<<20)
	bw.Write([]byte("\x93NUMPY\x01\x00"))
	binary.Write(bw, binary.LittleEndian, uint16(len(header)))
	bw.WriteString(header)
	buf := make([]float32, dim)
	b := make([]byte, 2*dim)
	for i := range n {
		row(i, buf)
		for k, v := range buf {
			binary.LittleEndian.PutUint16(b[2*k:], half.FromFloat32(v))
		}
		bw.Write(b)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
}
