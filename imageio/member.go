package imageio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/multilabel/multilabel/errkind"
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
	var f io.ReaderAt
	if strings.Contains(archive, "://") {
		ra, err := remoteArchive(archive)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		f = ra
	} else {
		lf, err := os.Open(archive)
		if err != nil {
			return nil, err
		}
		defer lf.Close()
		f = lf
	}
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

// Archives in object storage. A member path's archive may be a URL (s3://bucket/k.tar,
// without the URL's options): its member is then read with one ranged request through
// the reader registered for that URL (package stage registers the archives it lists
// from a bucket), so the archive is never downloaded whole.
var remote struct {
	sync.Mutex
	m map[string]*remoteEntry
}

type remoteEntry struct {
	r    io.ReaderAt
	refs int
}

// RegisterArchive makes the members of the archive at url (a URL without options) read
// through r, until the returned function is called. Registering a URL that is already
// registered adds a reference and keeps the first reader.
func RegisterArchive(url string, r io.ReaderAt) (unregister func()) {
	remote.Lock()
	defer remote.Unlock()
	if remote.m == nil {
		remote.m = map[string]*remoteEntry{}
	}
	e := remote.m[url]
	if e == nil {
		e = &remoteEntry{r: r}
		remote.m[url] = e
	}
	e.refs++
	var once sync.Once
	return func() {
		once.Do(func() {
			remote.Lock()
			defer remote.Unlock()
			if e.refs--; e.refs == 0 && remote.m[url] == e {
				delete(remote.m, url)
			}
		})
	}
}

func remoteArchive(url string) (io.ReaderAt, error) {
	remote.Lock()
	defer remote.Unlock()
	if e := remote.m[url]; e != nil {
		return e.r, nil
	}
	return nil, errkind.WrapUnavailable(fmt.Errorf("archive %s is not open for reading (member paths of a bucket are read through the stage package)", url))
}
