package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFilesAllOrNothing: when one file of a group cannot be written (once: a full
// disk left a new 1,500-line names.txt beside an old 4-row .npy), none is replaced and
// no temporary file is left.
func TestWriteFilesAllOrNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "f.npy"), filepath.Join(dir, "f.npy.names.txt")
	if err := WriteFiles([]File{{a, []byte("old npy"), 0o644}, {b, []byte("old names"), 0o644}}); err != nil {
		t.Fatal(err)
	}
	// The second file's directory is a file: its temporary file cannot be created.
	bad := filepath.Join(dir, "f.npy", "names.txt")
	if err := WriteFiles([]File{{b, []byte("new names"), 0o644}, {bad, []byte("x"), 0o644}}); err == nil {
		t.Fatal("WriteFiles succeeded")
	}
	if got, _ := os.ReadFile(b); string(got) != "old names" {
		t.Errorf("names replaced: %q", got)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("%d entries left, want 2", len(ents))
	}
	if err := WriteFiles([]File{{a, []byte("new npy"), 0o644}, {b, []byte("new names"), 0o644}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(a); string(got) != "new npy" {
		t.Errorf("npy %q", got)
	}
}
