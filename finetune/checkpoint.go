package finetune

import (
	"errors"
	"fmt"

	ckptio "github.com/multilabel/multilabel/internal/checkpoint"
)

// checkpointVersion changes when the checkpoint layout changes.
const checkpointVersion = 2

var errNoCheckpoint = errors.New("finetune: no checkpoint")

// checkpoint is the gob-encoded state after a completed epoch: tail and head weights,
// AdamW moments and step (the schedule position), the best weights so far and the
// history.
type checkpoint struct {
	Version     int
	Fingerprint uint64
	Epoch       int // completed epochs
	State       *State
	Best        *State
	BestMAP     float64
	BestEpoch   int
	SinceBest   int
	Stopped     bool
	History     []Epoch
	// EMA is the moving average of State.Params (nil when Config.EMA is 0).
	EMA [][]float32
}

func cloneState(s *State) *State {
	cp := func(in [][]float32) [][]float32 {
		out := make([][]float32, len(in))
		for i, v := range in {
			out[i] = append([]float32(nil), v...)
		}
		return out
	}
	return &State{Params: cp(s.Params), Stats: cp(s.Stats), Mom: cp(s.Mom), Vel: cp(s.Vel), Step: s.Step}
}

// check verifies that the checkpoint's tensors fit the net.
func (ck *checkpoint) check(n *Net) error {
	if ck.State == nil {
		return errors.New("incomplete")
	}
	if ck.EMA != nil && len(ck.EMA) != len(ck.State.Params) {
		return fmt.Errorf("has %d averaged weight tensors, want %d", len(ck.EMA), len(ck.State.Params))
	}
	for j := range ck.EMA {
		if len(ck.EMA[j]) != len(ck.State.Params[j]) {
			return fmt.Errorf("averaged weight %d has %d values, want %d", j, len(ck.EMA[j]), len(ck.State.Params[j]))
		}
	}
	for _, st := range []*State{ck.State, ck.Best} {
		if st == nil {
			return errors.New("incomplete")
		}
		if len(st.Params) != n.nP() || len(st.Mom) != n.nP() || len(st.Vel) != n.nP() || len(st.Stats) != len(n.state) {
			return fmt.Errorf("has %d weight tensors, want %d", len(st.Params), n.nP())
		}
		for j := range st.Params {
			want := 1
			for _, d := range n.dims(j) {
				want *= d
			}
			if len(st.Params[j]) != want || len(st.Mom[j]) != want || len(st.Vel[j]) != want {
				return fmt.Errorf("weight %d has %d values, want %d", j, len(st.Params[j]), want)
			}
		}
	}
	return nil
}

// saveCheckpoint writes ck atomically (temp file in the same directory + rename).
func saveCheckpoint(path string, ck *checkpoint) error {
	return ckptio.Save("finetune", path, ck)
}

// loadCheckpoint reads a checkpoint; errNoCheckpoint when the file does not exist.
func loadCheckpoint(path string) (*checkpoint, error) {
	var ck checkpoint
	found, err := ckptio.Load("finetune", path, &ck, &ck.Version, checkpointVersion)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNoCheckpoint
	}
	return &ck, nil
}
