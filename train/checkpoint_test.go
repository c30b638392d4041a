package train

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadCheckpoint: arbitrary bytes give a checkpoint or an error, never a panic.
func FuzzLoadCheckpoint(f *testing.F) {
	dir := f.TempDir()
	const dim = 3
	x, y := synthetic(20, dim, []float64{0.5, 0.3}, 0, 0, 1)
	cfg := DefaultConfig()
	cfg.Epochs, cfg.BatchSize, cfg.Checkpoint = 1, 8, filepath.Join(dir, "c.ckpt")
	if _, err := Fit(context.Background(), cfg, x, y, x, y, dim, Callbacks{}); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(cfg.Checkpoint)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte("not a checkpoint"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "f.ckpt")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		ck, err := loadCheckpoint(p)
		if err == nil && (len(ck.Params) == 0 || len(ck.Mom) != len(ck.Params)) {
			t.Fatalf("accepted an incomplete checkpoint")
		}
	})
}

func TestTruncatedCheckpointRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const dim = 3
	x, y := synthetic(20, dim, []float64{0.5, 0.3}, 0, 0, 1)
	cfg := DefaultConfig()
	cfg.Epochs, cfg.BatchSize, cfg.Checkpoint = 2, 8, filepath.Join(dir, "c.ckpt")
	if _, err := Fit(context.Background(), cfg, x, y, x, y, dim, Callbacks{}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(cfg.Checkpoint)
	if err := os.WriteFile(cfg.Checkpoint, b[:len(b)-10], 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Resume = true
	if _, err := Fit(context.Background(), cfg, x, y, x, y, dim, Callbacks{}); err == nil {
		t.Fatal("resume accepted a truncated checkpoint")
	}
	// No temp files are left beside the checkpoint.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("checkpoint directory holds %d files, want 1", len(ents))
	}
}
