package imageio

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestMemberPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	arch := filepath.Join(dir, "a.tar")
	os.WriteFile(arch, []byte("0123456789"), 0o644)
	p := MemberPath(arch, 3, 4, "k.jpg")
	a, off, size, name, ok := ParseMemberPath(p)
	if !ok || a != arch || off != 3 || size != 4 || name != "k.jpg" {
		t.Fatalf("ParseMemberPath(%q) = %q %d %d %q %v", p, a, off, size, name, ok)
	}
	if b, err := ReadFile(p); err != nil || string(b) != "3456" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if _, err := ReadFile(MemberPath(arch, 8, 4, "k.jpg")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("member past the end: %v", err)
	}
	for _, s := range []string{"a.jpg", "x.tar#1/k", "x.tar#+1+2/k", "x.tar#-1+2/k", "x.tar#1+2"} {
		if _, _, _, _, ok := ParseMemberPath(s); ok {
			t.Errorf("%q parsed as a member path", s)
		}
	}
}

func FuzzParseMemberPath(f *testing.F) {
	f.Add("s.tar#0+10/a.jpg")
	f.Add("s.tar#99999999999999999999+1/a")
	f.Fuzz(func(t *testing.T, p string) {
		a, off, size, name, ok := ParseMemberPath(p)
		if ok && (off < 0 || size < 0 || MemberPath(a, off, size, name) == "") {
			t.Fatalf("%q: %d %d", p, off, size)
		}
	})
}
