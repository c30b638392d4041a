package imageio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// An image inside an archive (a WebDataset tar shard) has a member path:
//
//	ARCHIVE.tar#OFFSET+SIZE/NAME
//
// OFFSET and SIZE locate the member's bytes in the archive file (the tar reader of package
// dataset records them while listing the archive), NAME is the member's name, for
// messages. ReadFile and everything that reads images by path (the loader, DecodeFile,
// the feature cache's content hash) read such a path with one positioned read of SIZE
// bytes, so an image is read from the archive only when it is loaded, and memory holds
// at most the images being decoded.

// memberSep separates the archive from the member's location in a member path.
const memberSep = ".tar#"

// MaxMemberSize bounds the size of one archive member read as an image.
const MaxMemberSize = 1 << 30

// MemberPath returns the member path of the member of archive (a .tar file) whose bytes
// are size bytes at offset, named name.
func MemberPath(archive string, offset, size int64, name string) string {
	return archive + "#" + strconv.FormatInt(offset, 10) + "+" + strconv.FormatInt(size, 10) + "/" + name
}

// ParseMemberPath splits a member path; ok is false for an ordinary path.
func ParseMemberPath(p string) (archive string, offset, size int64, name string, ok bool) {
	i := strings.LastIndex(p, memberSep)
	if i < 0 {
		return "", 0, 0, "", false
	}
	archive, rest := p[:i+len(memberSep)-1], p[i+len(memberSep):]
	loc, name, found := strings.Cut(rest, "/")
	if !found {
		return "", 0, 0, "", false
	}
	o, s, found := strings.Cut(loc, "+")
	if !found {
		return "", 0, 0, "", false
	}
	off, err1 := strconv.ParseInt(o, 10, 64)
	sz, err2 := strconv.ParseInt(s, 10, 64)
	if err1 != nil || err2 != nil || off < 0 || sz < 0 || o[0] == '+' || s[0] == '+' {
		return "", 0, 0, "", false
	}
	if _, err := os.Stat(p); err == nil {
		return "", 0, 0, "", false // a real file of that name wins
	}
	return archive, off, sz, name, true
}

// ReadFile returns the content of the image file at path, or of the archive member a
// member path names.
func ReadFile(path string) ([]byte, error) {
	var buf []byte
	return readFileInto(path, &buf)
}

// readMember reads a member's bytes into *buf.
func readMember(path, archive string, off, size int64, buf *[]byte) ([]byte, error) {
	if size > MaxMemberSize {
		return nil, fmt.Errorf("%s: %w: archive member of %d bytes (limit %d)", path, ErrTooLarge, size, MaxMemberSize)
	}
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := *buf
	if int64(cap(b)) < size {
		b = make([]byte, size)
	}
	b = b[:size]
	if _, err := f.ReadAt(b, off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w: archive member truncated", path, ErrCorrupt)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	*buf = b
	return b, nil
}
