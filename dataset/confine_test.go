package dataset

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestConfine: with Confine, a label file naming /etc/shadow or ../../x is refused (once
// any readable file could be named, and inspect echoed its first bytes).
func TestConfine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, img := range []string{"/etc/shadow", "../../etc/shadow", "a/../../b.jpg"} {
		p := writeFile(t, filepath.Join(dir, "l.csv"), "image,labels\n"+img+",cat\n")
		if _, err := Load(p, Options{Confine: true}); !IsBadInput(err) || !strings.Contains(err.Error(), "outside the images directory") {
			t.Errorf("%s: %v", img, err)
		}
		if _, err := Load(p, Options{}); err != nil {
			t.Errorf("%s without Confine: %v", img, err)
		}
	}
	p := writeFile(t, filepath.Join(dir, "ok.csv"), "image,labels\nsub/a.jpg,cat\nb/../c.jpg,dog\n")
	if _, err := Load(p, Options{Confine: true}); err != nil {
		t.Errorf("references inside: %v", err)
	}
}
