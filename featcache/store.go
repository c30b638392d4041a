// Package featcache extracts pooled backbone features for lists of images and keeps them
// in a persistent on-disk cache, so a second run over the same images (in any dataset)
// extracts nothing. ExtractSpatial does the same for the map at the cut (C×H×W per
// image, before pooling), stored as float16 under a key of its own (ModelKey.Spatial).
//
// A cache entry is keyed by the model key (backbone sha256 + feature node + preprocessing
// spec) and the sha256 of the image file's content. Each entry is one small file written
// to a temporary name and renamed into place, so a killed run leaves only complete
// entries, and two processes may extract into the same cache at once (the last rename
// wins; both wrote the same values).
//
// The engine is not part of the key: ONNX Runtime and the pure-Go engine agree to within
// 1e-3 of the feature scale (the engine conformance tests check it on real photos), so
// features extracted by either serve both.
package featcache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/fsutil"
	"github.com/multilabel/multilabel/internal/half"
)

// formatVersion changes when the meaning of cached values changes.
const formatVersion = 1

// entryMagic starts every entry file.
var entryMagic = [8]byte{'M', 'L', 'F', 'E', 'A', 'T', '0', '1'}

// entryMagicHalf starts every float16 entry file (the spatial maps of a Spatial key).
var entryMagicHalf = [8]byte{'M', 'L', 'F', 'E', 'A', 'T', 'H', '1'}

// Cache is a feature store rooted at a directory. It is safe for concurrent use by
// goroutines and by processes.
type Cache struct {
	dir string
}

// DefaultDir returns os.UserCacheDir()/multilabel/features.
func DefaultDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("featcache: locating the user cache directory: %w", err)
	}
	return filepath.Join(d, "multilabel", "features"), nil
}

// Open opens (creating it if needed) the cache rooted at dir; "" means DefaultDir().
func Open(dir string) (*Cache, error) {
	if dir == "" {
		var err error
		if dir, err = DefaultDir(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("featcache: creating cache directory: %w", err)
	}
	return &Cache{dir: dir}, nil
}

// Dir is the cache's root directory.
func (c *Cache) Dir() string { return c.dir }

// ModelKey identifies what produced a feature vector: the same image under a different
// backbone file, feature node or preprocessing gets a different entry.
type ModelKey struct {
	BackboneSHA256 string       `json:"backbone_sha256"`
	FeatureNode    string       `json:"feature_node"`
	Spec           imageio.Spec `json:"preprocessing"`
	// Pool is the global pooling of a spatial cut when it is not the average ("max",
	// "avgmax"); empty for average pooling and for cuts without spatial dimensions, so
	// the keys of average-pooled features did not change when pooling became a choice.
	Pool string `json:"pool,omitempty"`
	// Spatial marks entries that hold the whole map at the cut (C×H×W values, stored as
	// float16: 2 bytes a value, so MIML's 1,500 images × 512 × 13 × 13 take ≈ 260 MB)
	// instead of a pooled vector; Pool is then empty. See SpatialKeyOf.
	Spatial bool `json:"spatial,omitempty"`
	// View is the fixed variant of the images the features were made from (imageio.View:
	// "flip"); empty for the images as the preprocessing makes them, so the keys of
	// earlier releases did not change when views came.
	View string `json:"view,omitempty"`
}

// ID is the hex sha256 of the key's canonical JSON (with the cache format version).
func (k ModelKey) ID() string {
	b, err := json.Marshal(struct {
		Version int `json:"version"`
		ModelKey
	}{formatVersion, k})
	if err != nil { // cannot happen: plain data
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// HashFile returns the hex sha256 of a file's content.
func HashFile(path string) (string, error) {
	data, err := imageio.ReadFile(path) // a file, or an image inside a tar shard
	if err != nil {
		return "", err
	}
	return HashBytes(data), nil
}

// HashBytes returns the hex sha256 of data.
func HashBytes(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

func (c *Cache) modelDir(k ModelKey) string { return filepath.Join(c.dir, k.ID()) }

func (c *Cache) entryPath(k ModelKey, imageHash string) string {
	ext := ".f32"
	if k.Spatial {
		ext = ".f16"
	}
	return filepath.Join(c.modelDir(k), imageHash[:2], imageHash+ext)
}

// Get returns the cached features of the image with content hash imageHash, or ok=false
// when there is no valid entry (a damaged entry counts as missing).
func (c *Cache) Get(k ModelKey, imageHash string) (feat []float32, ok bool) {
	if !validHash(imageHash) {
		return nil, false
	}
	data, err := os.ReadFile(c.entryPath(k, imageHash))
	if err != nil {
		return nil, false
	}
	feat, isHalf, err := decodeEntry(data)
	if err != nil || isHalf != k.Spatial {
		return nil, false
	}
	return feat, true
}

// Put stores the features of the image with content hash imageHash. The entry appears
// atomically: readers see either no entry or the complete one.
func (c *Cache) Put(k ModelKey, imageHash string, feat []float32) error {
	if !validHash(imageHash) {
		return fmt.Errorf("featcache: invalid image hash %q", imageHash)
	}
	p := c.entryPath(k, imageHash)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("featcache: %w", err)
	}
	if err := c.writeKeyFile(k); err != nil {
		return err
	}
	if k.Spatial {
		return writeAtomic(p, encodeEntryHalf(feat), false)
	}
	return writeAtomic(p, encodeEntry(feat), false)
}

// writeKeyFile leaves a human-readable key.json in the model directory (once).
func (c *Cache) writeKeyFile(k ModelKey) error {
	p := filepath.Join(c.modelDir(k), "key.json")
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return fmt.Errorf("featcache: %w", err)
	}
	return writeAtomic(p, append(b, '\n'), false)
}

// Len counts the entries stored for a model key.
func (c *Cache) Len(k ModelKey) (int, error) {
	n := 0
	err := filepath.WalkDir(c.modelDir(k), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".f32") || strings.HasSuffix(path, ".f16")) {
			n++
		}
		return nil
	})
	return n, err
}

// writeAtomic writes data to path through internal/fsutil (a temporary file beside
// path, then a rename), so readers never see a partial file even if the writer is
// killed. With sync the data is flushed to disk before the rename (survives power
// loss); cache entries skip it because their checksum makes a damaged entry read as
// missing. Files are private to the user (0600), as the cache always made them.
func writeAtomic(path string, data []byte, sync bool) error {
	write := fsutil.WriteFileNoSync
	if sync {
		write = fsutil.WriteFile
	}
	if err := write(path, data, 0o600); err != nil {
		return fmt.Errorf("featcache: writing %s: %w", path, err)
	}
	return nil
}

// Entry file: magic (8 bytes) | dim uint32 LE | dim float32 LE | crc32 (IEEE) of all before.
func encodeEntry(feat []float32) []byte {
	b := make([]byte, 0, 8+4+4*len(feat)+4)
	b = append(b, entryMagic[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(feat)))
	for _, v := range feat {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// Half entry file (Spatial keys): magic (8 bytes) | n uint32 LE | n float16 LE | crc32
// (IEEE) of all before. Values beyond the float16 range saturate to ±Inf, like NumPy.
func encodeEntryHalf(feat []float32) []byte {
	b := make([]byte, 0, 8+4+2*len(feat)+4)
	b = append(b, entryMagicHalf[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(feat)))
	for _, v := range feat {
		b = binary.LittleEndian.AppendUint16(b, half.FromFloat32(v))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// decodeEntry reads a float32 or a float16 entry; isHalf tells which it was.
func decodeEntry(b []byte) (feat []float32, isHalf bool, err error) {
	if len(b) < 16 {
		return nil, false, errors.New("featcache: not a feature entry")
	}
	var width int
	switch [8]byte(b[:8]) {
	case entryMagic:
		width = 4
	case entryMagicHalf:
		width, isHalf = 2, true
	default:
		return nil, false, errors.New("featcache: not a feature entry")
	}
	dim := int(binary.LittleEndian.Uint32(b[8:12]))
	if len(b) != 16+width*dim {
		return nil, false, fmt.Errorf("featcache: entry has %d bytes, want %d for dim %d", len(b), 16+width*dim, dim)
	}
	body := b[:len(b)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, false, errors.New("featcache: entry checksum mismatch")
	}
	feat = make([]float32, dim)
	for i := range feat {
		if isHalf {
			feat[i] = half.ToFloat32(binary.LittleEndian.Uint16(body[12+2*i:]))
		} else {
			feat[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[12+4*i:]))
		}
	}
	return feat, isHalf, nil
}
