// Package fsutil holds small file-system helpers shared by the packages that write user
// outputs, so that none of them can leave a half-written file behind.
package fsutil

import (
	"io"
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically: into a temporary file in the same directory,
// synced, then renamed over path. Readers see the old file or the new one, never a part.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteWith(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFileNoSync is WriteFile without flushing the data to disk before the rename:
// readers still never see a partial file, but after a power loss the file may be
// damaged. It is for caches whose entries carry a checksum (a damaged entry reads as
// missing), where a sync per entry would cost more than it saves.
func WriteFileNoSync(path string, data []byte, perm os.FileMode) error {
	return writeWith(path, perm, false, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteWith is WriteFile for content produced by a function writing to w. When fill
// fails, the temporary file is removed, path is untouched and fill's error is returned
// as it is (callers add their own context, the path included).
func WriteWith(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	return writeWith(path, perm, true, fill)
}

// WriteWithNoSync is WriteWith without the fsync (see WriteFileNoSync).
func WriteWithNoSync(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	return writeWith(path, perm, false, fill)
}

func writeWith(path string, perm os.FileMode, sync bool, fill func(w io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if sync {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
