package dataset

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/imageio"
)

type nopSeekCloser struct{ *bytes.Reader }

func (nopSeekCloser) Close() error { return nil }

// FuzzWDS feeds arbitrary bytes to the tar shard reader (through LoadShards' opener, as
// a shard in object storage is read): it must not panic, must answer bad input or a
// dataset that keeps its invariants, and every member path it makes must name the shard
// with a non-negative range (a range past a truncated end is found when the image is
// read, as a truncated image).
func FuzzWDS(f *testing.F) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(name, body string) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	add(VocabularyMember, `{"labels":["cat","dog"]}`)
	add("a.jpg", "JPEGDATA")
	add("a.json", `{"image":"x/a.jpg","labels":["cat"],"unknown":["dog"]}`)
	add("b.png", "PNG")
	add("b.json", `{"labels":["dog","bird"]}`)
	add("c.json", `{"labels":[]}`)
	tw.Close()
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:700])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		open := func(string) (io.ReadSeekCloser, error) { return nopSeekCloser{bytes.NewReader(data)}, nil }
		d, err := LoadShards([]string{"s3://b/fuzz.tar"}, open, Options{})
		checkInvariants(t, d, err)
		if err != nil {
			return
		}
		for _, s := range d.Samples {
			archive, off, size, _, ok := imageio.ParseMemberPath(s.Path)
			if !ok || archive != "s3://b/fuzz.tar" || off < 0 || size < 0 || !strings.HasPrefix(s.Path, "s3://b/fuzz.tar#") {
				t.Fatalf("member path %q: %v %d+%d of %d bytes", s.Path, ok, off, size, len(data))
			}
		}
	})
}
