//go:build azure

package objstore

// azblob:// URLs (Azure Blob Storage). Behind the "azure" build tag: the driver and the
// Azure SDK add about 15 MB to the binary (see docs/scale.md).
import _ "gocloud.dev/blob/azureblob"

func init() { drivers["azblob"] = true }
