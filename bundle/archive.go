package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/internal/fsutil"
)

// The bundle container: an uncompressed POSIX tar whose first member is manifest.json,
// listing every other member with its size and sha256. Reading checks the format, that
// every listed member is present exactly once, that no unlisted member is present, and
// every size and digest, before anything is decoded.

const (
	manifestName = "manifest.json"
	bundleFormat = "multilabel-bundle"
	// FormatVersion is the bundle format version this package writes and reads.
	FormatVersion = 1
	// maxMemberSize bounds any single member (a corrupt header must not make us allocate
	// terabytes).
	maxMemberSize = 4 << 30
	maxMembers    = 64
	// maxTrailer bounds the zero padding accepted after the end-of-archive marker
	// (tar tools pad to 10 KiB records).
	maxTrailer = 64 << 10
	// memberOverhead bounds the tar bytes around one member's data: its header, a PAX
	// header for a long name, and padding to a 512-byte block.
	memberOverhead = 4 << 10
)

// ErrCorrupt is wrapped by every error about a damaged, truncated or tampered bundle.
// It matches errkind.ErrBadInput.
var ErrCorrupt = errkind.Sentinel("corrupt model bundle", errkind.ErrBadInput)

// Manifest is the bundle's table of contents.
type Manifest struct {
	Format  string         `json:"format"`
	Version int            `json:"version"`
	Created time.Time      `json:"created"`
	Members []ManifestItem `json:"members"`
}

// ManifestItem describes one member of the bundle.
type ManifestItem struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

type member struct {
	name string
	data []byte
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeArchive writes members (manifest first) to path through a temporary file in the
// same directory and a rename, so readers never see a half-written bundle. It returns
// the manifest bytes.
func writeArchive(path string, members []member, created time.Time) ([]byte, error) {
	man := Manifest{Format: bundleFormat, Version: FormatVersion, Created: created.UTC()}
	seen := map[string]bool{manifestName: true}
	for _, m := range members {
		if seen[m.name] {
			return nil, fmt.Errorf("bundle: duplicate member %q", m.name)
		}
		seen[m.name] = true
		man.Members = append(man.Members, ManifestItem{Name: m.name, Size: int64(len(m.data)), SHA256: digest(m.data)})
	}
	manBytes, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bundle: manifest: %w", err)
	}
	err = fsutil.WriteWith(path, 0o644, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		all := append([]member{{manifestName, manBytes}}, members...)
		for _, m := range all {
			hdr := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), ModTime: man.Created, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("member %s: %w", m.name, err)
			}
			if _, err := tw.Write(m.data); err != nil {
				return fmt.Errorf("member %s: %w", m.name, err)
			}
		}
		return tw.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	return manBytes, nil
}

// readArchive reads and verifies a bundle container from r. name is used in errors.
// It returns the members by name, the manifest and its raw bytes.
func readArchive(data []byte, name string) (map[string][]byte, *Manifest, []byte, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("model bundle %s: %s: %w", name, fmt.Sprintf(format, args...), ErrCorrupt)
	}
	cr := &countingReader{r: bytes.NewReader(data)}
	tr := tar.NewReader(cr)
	hdr, err := tr.Next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, nil, bad("empty file or not a bundle (no %s)", manifestName)
		}
		return nil, nil, nil, bad("not a bundle (reading %s: %v)", manifestName, err)
	}
	if hdr.Name != manifestName {
		return nil, nil, nil, bad("not a bundle: first member is %q, want %s", hdr.Name, manifestName)
	}
	if hdr.Size <= 0 || hdr.Size > 1<<20 {
		return nil, nil, nil, bad("member %s: size %d out of range", manifestName, hdr.Size)
	}
	manBytes, err := readMember(tr, hdr.Size, len(data))
	if err != nil {
		return nil, nil, nil, bad("member %s: truncated (%v)", manifestName, err)
	}
	var man Manifest
	if err := json.Unmarshal(manBytes, &man); err != nil {
		return nil, nil, nil, bad("member %s: %v", manifestName, err)
	}
	if man.Format != bundleFormat {
		return nil, nil, nil, bad("member %s: format %q, want %q", manifestName, man.Format, bundleFormat)
	}
	if man.Version != FormatVersion {
		return nil, nil, nil, fmt.Errorf("model bundle %s: format version %d, this program reads version %d", name, man.Version, FormatVersion)
	}
	if len(man.Members) > maxMembers {
		return nil, nil, nil, bad("member %s: %d members, at most %d", manifestName, len(man.Members), maxMembers)
	}
	want := make(map[string]ManifestItem, len(man.Members))
	for _, it := range man.Members {
		if it.Name == manifestName || it.Name == "" {
			return nil, nil, nil, bad("member %s: bad member name %q", manifestName, it.Name)
		}
		if _, dup := want[it.Name]; dup {
			return nil, nil, nil, bad("member %s: member %q listed twice", manifestName, it.Name)
		}
		if it.Size < 0 || it.Size > maxMemberSize {
			return nil, nil, nil, bad("member %s: member %q size %d out of range", manifestName, it.Name, it.Size)
		}
		want[it.Name] = it
	}
	got := make(map[string][]byte, len(want))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, nil, bad("truncated after %d of %d members (%v)", len(got), len(want), err)
		}
		it, listed := want[hdr.Name]
		if !listed {
			return nil, nil, nil, bad("member %q is not listed in the manifest", hdr.Name)
		}
		if _, dup := got[hdr.Name]; dup {
			return nil, nil, nil, bad("member %q appears twice", hdr.Name)
		}
		if hdr.Size != it.Size {
			return nil, nil, nil, bad("member %s: size %d, manifest says %d", hdr.Name, hdr.Size, it.Size)
		}
		body, err := readMember(tr, hdr.Size, len(data)-cr.n)
		if err != nil {
			return nil, nil, nil, bad("member %s: truncated (%v)", hdr.Name, err)
		}
		if d := digest(body); d != it.SHA256 {
			return nil, nil, nil, bad("member %s: sha256 %s, manifest says %s (tampered or damaged)", hdr.Name, d, it.SHA256)
		}
		got[hdr.Name] = body
	}
	// The archive must end with its two zero blocks (Go's tar reader accepts a file cut
	// right after a member's data, or after one zero block, as a clean end).
	if len(data)-cr.n > maxTrailer {
		return nil, nil, nil, bad("%d bytes after the end of the archive, at most %d", len(data)-cr.n, maxTrailer)
	}
	if cr.n < 1024 || !allZero(data[cr.n-1024:cr.n]) || !allZero(data[cr.n:]) {
		return nil, nil, nil, bad("truncated: end-of-archive marker missing after %d bytes", cr.n)
	}
	var missing []string
	for n := range want {
		if _, ok := got[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, nil, nil, bad("truncated or incomplete: member(s) %v missing", missing)
	}
	return got, &man, manBytes, nil
}

func readMember(r io.Reader, size int64, limit int) ([]byte, error) {
	if size > int64(limit) {
		return nil, fmt.Errorf("member of %d bytes in a file of %d: %w", size, limit, io.ErrUnexpectedEOF)
	}
	buf := make([]byte, size)
	n, err := io.ReadFull(r, buf)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read %d of %d bytes: %w", n, size, err)
	}
	return buf, nil
}

type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func allZero(b []byte) bool {
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}

// checkFileSize reads the manifest at the start of f (size bytes long) and refuses a file
// larger than the manifest's members, their tar headers and padding can account for, so
// a huge file is refused without being read.
func checkFileSize(f io.Reader, size int64, name string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("model bundle %s: %s: %w", name, fmt.Sprintf(format, args...), ErrCorrupt)
	}
	tr := tar.NewReader(io.LimitReader(f, 4<<20))
	hdr, err := tr.Next()
	if err != nil || hdr.Name != manifestName || hdr.Size <= 0 || hdr.Size > 1<<20 {
		return nil // decode gives the precise error
	}
	manBytes, err := io.ReadAll(io.LimitReader(tr, hdr.Size))
	if err != nil {
		return nil
	}
	var man Manifest
	if json.Unmarshal(manBytes, &man) != nil || len(man.Members) > maxMembers {
		return nil
	}
	bound := int64(memberOverhead) + hdr.Size + 1024 + maxTrailer
	for _, it := range man.Members {
		if it.Size < 0 || it.Size > maxMemberSize {
			return nil
		}
		bound += memberOverhead + it.Size
	}
	if size > bound {
		return bad("the file has %d bytes, its manifest accounts for at most %d", size, bound)
	}
	return nil
}
