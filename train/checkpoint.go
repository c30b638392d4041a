package train

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"

	ckptio "github.com/multilabel/multilabel/internal/checkpoint"
	"github.com/multilabel/multilabel/loss"
)

// checkpointVersion changes when the checkpoint layout changes.
const checkpointVersion = 1

var errNoCheckpoint = errors.New("train: no checkpoint")

// checkpoint is the gob-encoded state after a completed epoch.
type checkpoint struct {
	Version     int
	Fingerprint uint64 // configuration + data; a resume must match it
	State       runState
	Params      [][]float32
	Mom, Vel    [][]float32
	EMA         [][]float32
}

// fingerprint hashes everything that determines the run besides the seed-free
// bookkeeping: the configuration (with the resolved loss), the data and the initial weights.
func fingerprint(cfg Config, lc loss.Config, dim int, trX []float32, trY [][]int8, vaX []float32, vaY [][]int8, init [][]float32) uint64 {
	h := fnv.New64a()
	c := cfg
	c.Checkpoint, c.Resume = "", false
	c.Backend = "" // the backend changes speed, not the run
	b, _ := json.Marshal(struct {
		C Config
		L loss.Config
		D int
	}{c, lc, dim})
	h.Write(b)
	var buf [4]byte
	for _, xs := range append([][]float32{trX, vaX}, init...) {
		binary.LittleEndian.PutUint32(buf[:], uint32(len(xs)))
		h.Write(buf[:])
		for _, v := range xs {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			h.Write(buf[:])
		}
	}
	for _, ys := range [][][]int8{trY, vaY} {
		binary.LittleEndian.PutUint32(buf[:], uint32(len(ys)))
		h.Write(buf[:])
		for _, row := range ys {
			for _, v := range row {
				h.Write([]byte{byte(v)})
			}
		}
	}
	return h.Sum64()
}

// saveCheckpoint writes the state atomically (temp file in the same directory + rename).
func (t *trainer) saveCheckpoint(st runState) error {
	ck := checkpoint{Version: checkpointVersion, Fingerprint: t.fingerprint, State: st,
		Params: slicesOf(t.params), Mom: slicesOf(t.mom), Vel: slicesOf(t.vel)}
	if t.hasEMA {
		ck.EMA = slicesOf(t.ema)
	} else {
		ck.EMA = ck.Params
	}
	return ckptio.Save("train", t.cfg.Checkpoint, &ck)
}

// loadCheckpoint reads a checkpoint; errNoCheckpoint when the file does not exist.
func loadCheckpoint(path string) (*checkpoint, error) {
	var ck checkpoint
	found, err := ckptio.Load("train", path, &ck, &ck.Version, checkpointVersion)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNoCheckpoint
	}
	n := len(ck.Params)
	if n == 0 || len(ck.Mom) != n || len(ck.Vel) != n || len(ck.EMA) != n {
		return nil, fmt.Errorf("train: checkpoint %s is incomplete (%d/%d/%d/%d weight tensors)", path, n, len(ck.Mom), len(ck.Vel), len(ck.EMA))
	}
	return &ck, nil
}
