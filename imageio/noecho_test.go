package imageio

import (
	"errors"
	"strings"
	"testing"
)

// TestNoContentEchoed: the error for a non-image file (once "looks like text:
// \"root:$6$...\"" for /etc/shadow) says what it looks like, not what it holds.
func TestNoContentEchoed(t *testing.T) {
	t.Parallel()
	for _, data := range [][]byte{[]byte("root:$6$s3cr3tHash:19000:0:99999:7:::\n"), {0x00, 0x01, 0x02, 0x53, 0x45, 0x43, 0x52, 0x45, 0x54}} {
		_, err := DecodeBytes(data, DecodeOptions{})
		if !errors.Is(err, ErrUnknownFmt) {
			t.Fatalf("DecodeBytes = %v", err)
		}
		if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "root") || strings.Contains(err.Error(), "53 45") {
			t.Errorf("error echoes the content: %v", err)
		}
	}
}
