//go:build gcs

package objstore

// gs:// URLs (Google Cloud Storage). Behind the "gcs" build tag: the driver and the
// Google client libraries add about 15 MB to the binary (see docs/scale.md).
import _ "gocloud.dev/blob/gcsblob"

func init() { drivers["gs"] = true }
