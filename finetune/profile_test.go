package finetune

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	onnxbackend "github.com/gomlx/compute-onnx"
	rt "github.com/yalue/onnxruntime_go"

	"github.com/multilabel/multilabel/internal/backends"
	"github.com/multilabel/multilabel/internal/sharedtest"
)

// TestProfileStep is a tool, not a check (skipped unless FINETUNE_PROFILE_STEP names an
// output folder): it compiles one training step on the ONNX Runtime backend (SqueezeNet
// 1.1, or FINETUNE_PROFILE_MODEL; FINETUNE_PROFILE_UNFREEZE, default "all";
// FINETUNE_PROFILE_TRAINBN=1 for batch statistics; batch 32), exports the ONNX graph
// compute-onnx built (step.onnx), runs it four times in onnxruntime_go with ONNX
// Runtime's profiler on random inputs, and prints the kernel time by op type and the
// slowest nodes with their shapes. It is how the lowerings of lower_taps.go and
// convgrad.go were chosen: the profile says which ops a step spends its time in.
func TestProfileStep(t *testing.T) {
	dir := os.Getenv("FINETUNE_PROFILE_STEP")
	if dir == "" {
		t.Skip("FINETUNE_PROFILE_STEP not set (a profiling tool, not a test)")
	}
	model := os.Getenv("FINETUNE_PROFILE_MODEL")
	if model == "" {
		model = filepath.Join(sharedtest.Dir(t, "models/squeezenet1.1"), "squeezenet1.1-fp16.onnx")
	}
	defer elemGradEnv()()
	u := os.Getenv("FINETUNE_PROFILE_UNFREEZE")
	if u == "" {
		u = "all"
	}
	lib := sharedtest.ORTLib(t)
	c, err := backends.Select(backends.ONNX, backends.Options{ORTLib: lib})
	if err != nil {
		t.Fatal(err)
	}
	c.Backend.(*onnxbackend.Backend).SetKeepModelProto(true)
	st, err := newModelStep(model, u, 32, c.Backend, os.Getenv("FINETUNE_PROFILE_TRAINBN") == "1")
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	if err := st.step(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stepPath := filepath.Join(dir, "step.onnx")
	f, err := os.Create(stepPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := onnxbackend.SaveModel(c.Backend, st.net.lastStep.Executable(), f, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if !rt.IsInitialized() {
		rt.SetSharedLibraryPath(lib)
		if err := rt.InitializeEnvironment(); err != nil {
			t.Fatal(err)
		}
	}
	ins, outs, err := rt.GetInputOutputInfo(stepPath)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := rt.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Destroy()
	prefix := filepath.Join(dir, "profile")
	if err := opt.EnableProfiling(prefix); err != nil {
		t.Fatal(err)
	}
	var inNames, outNames []string
	var vals []rt.Value
	rng := rand.New(rand.NewPCG(1, 2))
	for _, in := range ins {
		if in.DataType != rt.TensorElementDataTypeFloat {
			t.Fatalf("input %s: type %v, want float", in.Name, in.DataType)
		}
		inNames = append(inNames, in.Name)
		var v rt.Value
		if len(in.Dimensions) == 0 {
			v, err = rt.NewScalar(float32(1e-3)) // learning rates, bias corrections
		} else {
			d := make([]float32, in.Dimensions.FlattenedSize())
			for k := range d {
				d[k] = rng.Float32() * 0.1
			}
			v, err = rt.NewTensor(in.Dimensions, d)
		}
		if err != nil {
			t.Fatalf("input %s: %v", in.Name, err)
		}
		defer v.Destroy()
		vals = append(vals, v)
	}
	for _, o := range outs {
		outNames = append(outNames, o.Name)
	}
	s, err := rt.NewDynamicAdvancedSession(stepPath, inNames, outNames, opt)
	if err != nil {
		t.Fatal(err)
	}
	const runs = 4
	for range runs {
		res := make([]rt.Value, len(outs))
		for k, o := range outs {
			if len(o.Dimensions) == 0 { // onnxruntime_go cannot allocate a scalar output itself
				if res[k], err = rt.NewEmptyScalar[float32](); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.Run(vals, res); err != nil {
			t.Fatal(err)
		}
		for _, v := range res {
			if v != nil {
				v.Destroy()
			}
		}
	}
	if err := s.Destroy(); err != nil { // writes the profile
		t.Fatal(err)
	}
	files, _ := filepath.Glob(prefix + "*.json")
	if len(files) == 0 {
		t.Fatal("no profile written")
	}
	sort.Strings(files)
	b, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	var events []struct {
		Cat  string  `json:"cat"`
		Name string  `json:"name"`
		Dur  float64 `json:"dur"` // µs
		Args struct {
			Op  string `json:"op_name"`
			In  any    `json:"input_type_shape"`
			Out any    `json:"output_type_shape"`
		} `json:"args"`
	}
	if err := json.Unmarshal(b, &events); err != nil {
		t.Fatalf("%s: %v", files[len(files)-1], err)
	}
	type agg struct {
		name  string
		us    float64
		count int
		shape string
	}
	byOp, byNode := map[string]*agg{}, map[string]*agg{}
	total := 0.0
	for _, e := range events {
		if e.Cat != "Node" || !strings.HasSuffix(e.Name, "_kernel_time") {
			continue
		}
		total += e.Dur
		for _, m := range []struct {
			m   map[string]*agg
			key string
		}{{byOp, e.Args.Op}, {byNode, e.Args.Op + " " + strings.TrimSuffix(e.Name, "_kernel_time")}} {
			a := m.m[m.key]
			if a == nil {
				in, _ := json.Marshal(e.Args.In)
				out, _ := json.Marshal(e.Args.Out)
				a = &agg{name: m.key, shape: fmt.Sprintf("%.120s -> %.60s", in, out)}
				m.m[m.key] = a
			}
			a.us += e.Dur
			a.count++
		}
	}
	sorted := func(m map[string]*agg) []*agg {
		var l []*agg
		for _, a := range m {
			l = append(l, a)
		}
		sort.Slice(l, func(i, j int) bool { return l[i].us > l[j].us })
		return l
	}
	fmt.Printf("step %s (unfreeze %s): kernel time %.0f ms a run (%d runs), %s\n", filepath.Base(model), u, total/1000/runs, runs, stepPath)
	for _, a := range sorted(byOp) {
		fmt.Printf("  %-20s %8.1f ms %5.1f%%  %d nodes\n", a.name, a.us/1000/runs, 100*a.us/total, a.count/runs)
	}
	for i, a := range sorted(byNode) {
		if i == 30 {
			break
		}
		fmt.Printf("  %8.1f ms  %s  %s\n", a.us/1000/runs, a.name, a.shape)
	}
}
