package dataset

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/multilabel/multilabel/internal/sharedtest"
)

func jpegBytes(t testing.TB, w, h int, shade uint8) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{shade, uint8(x), uint8(y), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngBombHeader is a PNG whose IHDR declares width×height pixels, with no pixel data.
func pngBombHeader(width, height uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 0, 17)
	ihdr = append(ihdr, "IHDR"...)
	ihdr = binary.BigEndian.AppendUint32(ihdr, width)
	ihdr = binary.BigEndian.AppendUint32(ihdr, height)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(ihdr)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(ihdr))
	return b.Bytes()
}

// mixedFolder writes a label file over good and bad images (the bad-input list of issue 2)
// and returns its path and the bad image names with the kind each must get.
func mixedFolder(t testing.TB) (string, map[string]string) {
	dir := t.TempDir()
	good := jpegBytes(t, 64, 48, 10)
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, image.NewGray(image.Rect(0, 0, 20, 30)))
	files := map[string][]byte{
		"good1.jpg":     good,
		"good2.jpg":     jpegBytes(t, 64, 48, 200),
		"good3.png":     pngBuf.Bytes(),
		"empty.jpg":     {},
		"truncated.jpg": jpegBytes(t, 64, 48, 99)[:300],
		"text.jpg":      []byte("this is not an image, just text with a .jpg name\n"),
		"bomb.png":      pngBombHeader(50000, 50000),
		"copy.jpg":      good,
	}
	for name, data := range files {
		writeFile(t, filepath.Join(dir, "imgs", name), string(data))
	}
	os.Mkdir(filepath.Join(dir, "imgs", "adir.jpg"), 0o755)
	csv := "image,labels\n" +
		"good1.jpg,\"cat,dog\"\n" +
		"good2.jpg,cat\n" +
		"missing.jpg,dog\n" +
		"empty.jpg,dog\n" +
		"truncated.jpg,cat\n" +
		"good3.png,bird\n" +
		"text.jpg,cat\n" +
		"bomb.png,cat\n" +
		"copy.jpg,dog\n" +
		"adir.jpg,dog\n"
	p := writeFile(t, filepath.Join(dir, "labels.csv"), csv)
	return p, map[string]string{
		"missing.jpg": BadMissing, "empty.jpg": BadEmpty, "truncated.jpg": BadCorrupt,
		"text.jpg": BadNotImage, "bomb.png": BadTooLarge, "copy.jpg": BadDuplicate,
		"adir.jpg": BadUnreadable,
	}
}

func TestInspectMixedFolder(t *testing.T) {
	t.Parallel()
	p, wantBad := mixedFolder(t)
	d, err := Load(p, Options{ImagesDir: filepath.Join(filepath.Dir(p), "imgs")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Inspect(t.Context(), d, InspectOptions{CheckOptions: CheckOptions{Workers: 3}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, b := range r.BadImages {
		got[b.Image] = b.Kind
		if !strings.Contains(b.Path, b.Image) || b.Reason == "" {
			t.Errorf("bad image %+v: want its path and a reason", b)
		}
	}
	if !reflect.DeepEqual(got, wantBad) {
		t.Fatalf("bad images %v, want %v", got, wantBad)
	}
	if r.NImages != 3 || r.NSamples != 10 {
		t.Fatalf("n_images %d of %d, want 3 of 10", r.NImages, r.NSamples)
	}
	if !reflect.DeepEqual(r.LabelCounts, map[string]int{"bird": 1, "cat": 2, "dog": 1}) {
		t.Errorf("label counts %v", r.LabelCounts)
	}
	if r.ImbalanceRatio != 2 || r.Cardinality != 4.0/3 {
		t.Errorf("imbalance %v cardinality %v", r.ImbalanceRatio, r.Cardinality)
	}
	if len(r.TopPairs) != 1 || r.TopPairs[0] != (Pair{"cat", "dog", 1}) {
		t.Errorf("pairs %v", r.TopPairs)
	}
	if s := r.ImageSize; s == nil || s.N != 3 || s.MinWidth != 20 || s.MaxWidth != 64 || s.Common[0] != (Size{64, 48, 2}) {
		t.Errorf("sizes %+v", r.ImageSize)
	}
	// The JSON carries the keys other tools read.
	js, _ := json.Marshal(r)
	var m map[string]any
	json.Unmarshal(js, &m)
	for _, k := range []string{"n_images", "n_labels", "label_counts", "bad_images"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, js)
		}
	}
	var text bytes.Buffer
	r.WriteText(&text)
	for _, want := range []string{"3 readable and labelled (of 10 listed), 7 bad", "truncated.jpg: corrupt", "bomb.png: too-large"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}

	// Strict: the first bad image is an error naming it.
	_, err = Inspect(t.Context(), d, InspectOptions{CheckOptions: CheckOptions{Strict: true}})
	var ie *ImageError
	if !errors.As(err, &ie) || !IsBadInput(err) || !strings.Contains(err.Error(), "missing.jpg") {
		t.Fatalf("strict: %v, want an ImageError naming missing.jpg", err)
	}

	// DropBadImages keeps the good ones, in order.
	clean, bad, err := DropBadImages(t.Context(), d, CheckOptions{})
	if err != nil || len(bad) != 7 || len(clean.Samples) != 3 || clean.Samples[2].Image != "good3.png" {
		t.Fatalf("DropBadImages: %v, %d bad, %+v", err, len(bad), clean)
	}
}

func TestCheckImagesCancelled(t *testing.T) {
	t.Parallel()
	p, _ := mixedFolder(t)
	d, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := CheckImages(ctx, d, CheckOptions{}); err == nil {
		t.Fatal("cancelled check returned no error")
	}
}

// BenchmarkCheckImagesMIML decodes and hashes the 1,500 MIML JPEGs with the parallel
// checker; images/s is the figure to compare with the loader's.
func BenchmarkCheckImagesMIML(b *testing.B) {
	dir := sharedtest.Dir(b, "data/miml-scenes")
	d, err := Load(filepath.Join(dir, "labels_onehot.csv"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		r, err := CheckImages(b.Context(), d, CheckOptions{})
		if err != nil || len(r.Bad) != 0 {
			b.Fatal(err, r.Bad)
		}
	}
	b.ReportMetric(float64(len(d.Samples)*b.N)/b.Elapsed().Seconds(), "images/s")
}
