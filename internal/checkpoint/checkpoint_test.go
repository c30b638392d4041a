package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type state struct {
	Version int
	Values  []float32
}

func TestSaveLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "ck.gob")
	var got state
	if found, err := Load("x", p, &got, &got.Version, 1); found || err != nil {
		t.Fatalf("missing file: found=%v err=%v", found, err)
	}
	if err := Save("x", p, &state{Version: 1, Values: []float32{1, 2}}); err != nil {
		t.Fatal(err)
	}
	if found, err := Load("x", p, &got, &got.Version, 1); !found || err != nil || len(got.Values) != 2 || got.Values[1] != 2 {
		t.Fatalf("found=%v err=%v got %+v", found, err, got)
	}
	var other state
	if _, err := Load("x", p, &other, &other.Version, 2); err == nil || !strings.Contains(err.Error(), "version 1, want 2") {
		t.Fatalf("version mismatch: %v", err)
	}
	if err := os.WriteFile(p, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("x", p, &other, &other.Version, 1); err == nil || !strings.Contains(err.Error(), "x: checkpoint") {
		t.Fatalf("corrupt file: %v", err)
	}
	if err := Save("x", filepath.Join(dir, "missing", "ck.gob"), &got); err == nil || !strings.HasPrefix(err.Error(), "x: writing checkpoint") {
		t.Fatalf("unwritable: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want 1", len(ents))
	}
}
