package imageio

import "testing"

func TestHasImageExt(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"a.jpg": true, "b.JPEG": true, "c.png": true, "d.gif": true, "e.bmp": true, "f.webp": true,
		"g.tif": true, "h.TIFF": true, "notes.txt": false, "labels.csv": false, "noext": false, "dir.jpg/x": false,
	} {
		if got := HasImageExt(name); got != want {
			t.Errorf("HasImageExt(%q) = %v, want %v", name, got, want)
		}
	}
	if n := len(ImageExts()); n != 8 {
		t.Errorf("%d extensions, want 8", n)
	}
}
