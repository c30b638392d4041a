package model

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/multilabel/multilabel/internal/fsutil"
)

// MapWriter writes overlay PNGs into a directory as DIR/<image>.<label>.png (what
// predict --explain writes). <image> is the image's file name without its extension
// and <label> the label's name, both sanitised: characters other than ASCII letters,
// digits, '-', '_' and '.' become '_', a leading '.' becomes '_', and names are cut to
// 100 bytes. When two images of the run would get the same <image> (a.jpg and a.png,
// or the same name in two directories), each of them gets "-" and the first 8 hex
// digits of the sha256 of its path appended; labels whose sanitised names collide get
// "-" and their index appended. Files are written atomically (temporary file and
// rename, without fsync: an overlay is cheap to redraw and a crash leaves no partial
// file under the final name).
type MapWriter struct {
	dir    string
	images []string // file stem per path index
	labels []string // file part per label index
	byName map[string]int
}

// NewMapWriter prepares names for the images at paths (indexed like the predictions
// passed to Write) and the labels, creating dir when missing.
func NewMapWriter(dir string, paths, labels []string) (*MapWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	w := &MapWriter{dir: dir, images: make([]string, len(paths)), labels: make([]string, len(labels)), byName: map[string]int{}}
	count := map[string]int{}
	for i, p := range paths {
		base := filepath.Base(p)
		w.images[i] = sanitise(strings.TrimSuffix(base, filepath.Ext(base)))
		count[w.images[i]]++
	}
	for i, p := range paths {
		if count[w.images[i]] > 1 {
			sum := sha256.Sum256([]byte(p))
			w.images[i] += "-" + hex.EncodeToString(sum[:4])
		}
	}
	seen := map[string]bool{}
	for j, l := range labels {
		s := sanitise(l)
		if seen[s] {
			s = fmt.Sprintf("%s-%d", s, j)
		}
		seen[s] = true
		w.labels[j] = s
		w.byName[l] = j
	}
	return w, nil
}

// Path returns the file of image i's map of label (a label name of the model).
func (w *MapWriter) Path(i int, label string) string {
	j, ok := w.byName[label]
	part := sanitise(label)
	if ok {
		part = w.labels[j]
	}
	return filepath.Join(w.dir, w.images[i]+"."+part+".png")
}

// Write writes the overlays of p (the prediction of image i) and returns their files,
// in p.Maps order.
func (w *MapWriter) Write(i int, p *Prediction) ([]string, error) {
	files := make([]string, len(p.Maps))
	for k, lm := range p.Maps {
		f := w.Path(i, lm.Label)
		if err := fsutil.WriteFileNoSync(f, lm.PNG, 0o644); err != nil {
			return nil, fmt.Errorf("explain: write %s: %w", f, err)
		}
		files[k] = f
	}
	return files, nil
}

func sanitise(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok || (i == 0 && c == '.') {
			b[i] = '_'
		}
	}
	if len(b) > 100 {
		b = b[:100]
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}
