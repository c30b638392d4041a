package finetune

import (
	"math"
	"testing"
)

// TestUpdateEMA: three steps of the moving average against values worked out by hand,
// the ramp min(decay, (1+t)/(10+t)) included.
func TestUpdateEMA(t *testing.T) {
	ema := [][]float32{{0, 10}}
	steps := [][]float32{{1, 0}, {2, 0}, {4, 0}}
	// decay 0.25: step 1 → min(0.25, 2/11) = 2/11; step 2 → min(0.25, 3/12) = 0.25;
	// step 3 → min(0.25, 4/13) = 0.25.
	// e1 = 2/11·(0,10) + 9/11·(1,0) = (9/11, 20/11)
	// e2 = 1/4·e1 + 3/4·(2,0) = (9/44 + 3/2, 5/11)
	// e3 = 1/4·e2 + 3/4·(4,0) = (9/176 + 3/8 + 3, 5/44)
	want := [][2]float64{{9.0 / 11, 20.0 / 11}, {9.0/44 + 1.5, 5.0 / 11}, {9.0/176 + 3.0/8 + 3, 5.0 / 44}}
	for k, p := range steps {
		updateEMA(ema, [][]float32{p}, 0.25, k+1)
		for i := range 2 {
			if math.Abs(float64(ema[0][i])-want[k][i]) > 1e-6 {
				t.Fatalf("step %d value %d: %v, want %v", k+1, i, ema[0][i], want[k][i])
			}
		}
	}
	if d := emaDecay(0.999, 0); d != 0.1 {
		t.Errorf("decay at step 0 = %v, want 0.1", d)
	}
	if v := emaView(&State{Params: steps}, nil); &v.Params[0][0] != &steps[0][0] {
		t.Error("emaView without EMA must be the state itself")
	}
}

// CheckpointForTest returns a checkpoint's raw weights, moving average, kept weights
// and step.
func CheckpointForTest(t testing.TB, path string) (params, ema, best [][]float32, step int) {
	t.Helper()
	ck, err := loadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	return ck.State.Params, ck.EMA, ck.Best.Params, ck.State.Step
}
