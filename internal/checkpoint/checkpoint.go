// Package checkpoint saves and loads the gob-encoded training checkpoints of packages
// train and finetune, atomically and with the same error wording in both.
package checkpoint

import (
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/multilabel/multilabel/internal/fsutil"
)

// Save writes v gob-encoded to path atomically (temporary file in the same directory,
// synced, renamed), readable by the owner only. Errors read "<who>: writing checkpoint
// <path>: ...".
func Save(who, path string, v any) error {
	err := fsutil.WriteWith(path, 0o600, func(w io.Writer) error {
		return gob.NewEncoder(w).Encode(v)
	})
	if err != nil {
		return fmt.Errorf("%s: writing checkpoint %s: %w", who, path, err)
	}
	return nil
}

// Load decodes the checkpoint at path into v (a pointer) and checks that *version, a
// field of v, equals want once decoded. It reports found=false with a nil error when
// path does not exist. Errors name who and path.
func Load(who, path string, v any, version *int, want int) (found bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: reading checkpoint: %w", who, err)
	}
	defer f.Close()
	if err := gob.NewDecoder(f).Decode(v); err != nil {
		return false, fmt.Errorf("%s: checkpoint %s is corrupt or truncated: %w", who, path, err)
	}
	if *version != want {
		return false, fmt.Errorf("%s: checkpoint %s has version %d, want %d", who, path, *version, want)
	}
	return true, nil
}
