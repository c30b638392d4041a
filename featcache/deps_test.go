package featcache

import (
	"strings"
	"testing"

	"github.com/multilabel/multilabel/internal/depstest"
)

// TestNoObjectStorageDeps: the feature store (and the dataset and image packages under
// it) stays free of the cloud SDKs; object storage lives in objstore and stage.
func TestNoObjectStorageDeps(t *testing.T) {
	t.Parallel()
	for _, d := range depstest.Deps(t) {
		if strings.HasPrefix(d, "gocloud.dev") || strings.HasPrefix(d, "github.com/aws/") {
			t.Errorf("featcache depends on %s", d)
		}
	}
}
