package demo

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/multilabel/multilabel/internal/fsutil"
)

// writeFile creates path's directory and writes data to path atomically (see
// fsutil.WriteFile), so readers never see a half-written file.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := fsutil.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	return nil
}
