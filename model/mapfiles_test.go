package model

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestMapWriterNames: names are sanitised, images with the same stem get their own
// suffix, labels that sanitise alike stay apart.
func TestMapWriterNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := NewMapWriter(dir, []string{"a/x.jpg", "b/x.png", "c/../.hid den.jpg"}, []string{"sea", "a b", "a_b", "é"})
	if err != nil {
		t.Fatal(err)
	}
	p0, p1 := w.Path(0, "sea"), w.Path(1, "sea")
	if p0 == p1 || !strings.HasPrefix(filepath.Base(p0), "x-") || !strings.HasSuffix(p0, ".sea.png") {
		t.Errorf("same stems: %s, %s", p0, p1)
	}
	if got := filepath.Base(w.Path(2, "a b")); got != "_hid_den.a_b.png" {
		t.Errorf("sanitised %q", got)
	}
	if w.Path(2, "a b") == w.Path(2, "a_b") {
		t.Errorf("labels a b and a_b share %s", w.Path(2, "a b"))
	}
	if got := filepath.Base(w.Path(2, "é")); got != "_hid_den.__.png" {
		t.Errorf("non-ASCII label: %q", got)
	}
}

// FuzzSanitise: a sanitised name is never empty, has no path separator, never starts
// with a dot and is at most 100 bytes, so DIR/<image>.<label>.png stays inside DIR.
func FuzzSanitise(f *testing.F) {
	for _, s := range []string{"", ".", "..", "a/b", `a\b`, "sea", "日本", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := sanitise(s)
		if got == "" || len(got) > 100 || strings.ContainsAny(got, `/\`+"\x00") || got[0] == '.' {
			t.Fatalf("sanitise(%q) = %q", s, got)
		}
		dir := "/d"
		if p := filepath.Join(dir, got+"."+got+".png"); filepath.Dir(p) != dir {
			t.Fatalf("%q escapes %s: %s", s, dir, p)
		}
	})
}
