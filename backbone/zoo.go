package backbone

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/internal/fsutil"
	"github.com/multilabel/multilabel/internal/progress"
)

// ZooEntry is a known pretrained backbone: where to get it, how to check it, how to feed
// it and where to cut it.
type ZooEntry struct {
	Name        string        `json:"name"`
	Aliases     []string      `json:"aliases,omitempty"`
	File        string        `json:"file"` // file name in the cache directory
	URL         string        `json:"url"`
	SHA256      string        `json:"sha256,omitempty"` // "" = not recorded: printed on first download
	HashSource  string        `json:"hash_source,omitempty"`
	Spec        *imageio.Spec `json:"spec,omitempty"`
	FeatureNode string        `json:"feature_node,omitempty"` // "" = automatic
	FeatureDim  int           `json:"feature_dim,omitempty"`
	Note        string        `json:"note,omitempty"`
}

// SqueezeNetFP16SHA256 is the sha256 of the SqueezeNet 1.1 float16 model of the shared
// test data (microsoft/Windows-Machine-Learning SqueezeNet_fp16.onnx).
const SqueezeNetFP16SHA256 = "21f25e3d9254af93e6218a359469fac714a017b3f9035c0f5c4acbf9a3ff7233"

// SqueezeNetSpec is the preprocessing of the Caffe-trained SqueezeNet 1.1: BGR, 0..255,
// Caffe mean (B,G,R = 104,117,123) subtracted, 224×224. The mean is subtracted because a
// linear probe on the MIML scenes prefers it (CV mAP 0.9115 vs 0.9064 raw), and the image
// is squished rather than cropped: Caffe trained these nets on squished 256×256 images,
// and for multi-label scenes a crop would cut away labelled content at the borders
// (a 384×256 photo loses a third of its width).
func SqueezeNetSpec() imageio.Spec {
	return imageio.Spec{Width: 224, Height: 224, Resize: imageio.ResizeSquish, ChannelOrder: "BGR",
		Scale: 255, Mean: [3]float32{104, 117, 123}, Layout: "NCHW"}
}

func imagenet() *imageio.Spec { s := imageio.ImageNetSpec(); return &s }

// Zoo is the built-in table. Names follow the timm/torchvision spelling
// (squeezenet1_1, mobilenet_v2); the names of earlier releases are aliases, and lookups
// ignore case and the separators "-", "_" and "." (mobilenet-v2 finds mobilenet_v2).
// Hashes come from the Git LFS pointers of onnx/models at the
// pinned commits in the URLs (an LFS oid is the sha256 of the file), or from the shared
// test file; they were not re-computed by downloading here.
var Zoo = []ZooEntry{
	{Name: "squeezenet1_1_fp16", Aliases: []string{"squeezenet", "squeezenet1.1-fp16"}, File: "squeezenet1.1-fp16.onnx",
		URL:         "https://github.com/microsoft/Windows-Machine-Learning/raw/155b5eeb/SharedContent/models/SqueezeNet_fp16.onnx",
		SHA256:      SqueezeNetFP16SHA256,
		HashSource:  "computed from the project's shared copy",
		Spec:        ptr(SqueezeNetSpec()),
		FeatureNode: "fire9/concat_1", FeatureDim: 512,
		Note: "SqueezeNet 1.1, Caffe2 export, float16 (converted to float32 on load), opset 7, MIT"},
	{Name: "squeezenet1_1", Aliases: []string{"squeezenet1.1"}, File: "squeezenet1.1-7.onnx",
		URL:        "https://github.com/onnx/models/raw/96d633069ed74096408061accc3b728672802890/vision/classification/squeezenet/model/squeezenet1.1-7.onnx",
		SHA256:     "9456373b67f04e4a9cb0bb9be984f0db2d0ad141582d84d4b4ad9e84f7ec7785",
		HashSource: "Git LFS pointer, onnx/models@96d63306",
		Spec:       imagenet(), FeatureDim: 512, Note: "SqueezeNet 1.1, float32, opset 7"},
	{Name: "resnet18", File: "resnet18-v2-7.onnx",
		URL:        "https://github.com/onnx/models/raw/2a67a85e670e61bf9819e9df6dae3771974552ff/validated/vision/classification/resnet/model/resnet18-v2-7.onnx",
		SHA256:     "3b4d048057854022232aa20bf68262e31718ab7119a17f920b8a2dc1433f824b",
		HashSource: "Git LFS pointer, onnx/models@2a67a85e",
		Spec:       imagenet(), FeatureDim: 512, Note: "ResNet-18 v2 (MXNet Gluon), opset 7"},
	{Name: "resnet50", File: "resnet50-v2-7.onnx",
		URL:        "https://github.com/onnx/models/raw/b9a54e89508f101a1611cd64f4ef56b9cb62c7cf/vision/classification/resnet/model/resnet50-v2-7.onnx",
		SHA256:     "1e80e8a7c8eec8e8b20c440d7dd7f2f8590779c7c2859dc4514870dc463845d3",
		HashSource: "Git LFS pointer, onnx/models@b9a54e89",
		Spec:       imagenet(), FeatureDim: 2048, Note: "ResNet-50 v2 (MXNet Gluon), opset 7"},
	{Name: "mobilenet_v2", Aliases: []string{"mobilenetv2"}, File: "mobilenetv2-7.onnx",
		URL:        "https://github.com/onnx/models/raw/13fcb614fdedcc09864c0691c080ccf82ca3b85b/vision/classification/mobilenet/model/mobilenetv2-7.onnx",
		SHA256:     "c1c513582d56afceff8516c73804e484c81c6a830712ab6d682253f4a3cd042f",
		HashSource: "Git LFS pointer, onnx/models@13fcb614",
		Spec:       imagenet(), FeatureDim: 1280, Note: "MobileNetV2 1.0 (MXNet Gluon), opset 7"},
	{Name: "efficientnet_lite4", Aliases: []string{"efficientnet-lite4", "tf_efficientnet_lite4"}, File: "efficientnet-lite4.onnx",
		URL:        "https://github.com/onnx/models/raw/1455c7548852a276312aad28413d60558ac2dcfa/vision/classification/efficientnet-lite4/model/efficientnet-lite4.onnx",
		SHA256:     "d111689907c06eea7c82e4833ddef758da6453b9d4cf60b7e99ca05c7cbd9c12",
		HashSource: "Git LFS pointer, onnx/models@1455c754",
		Spec: &imageio.Spec{Width: 224, Height: 224, Resize: imageio.ResizeShorterCrop, ResizeShorter: 256,
			ChannelOrder: "RGB", Scale: 255, Mean: [3]float32{127, 127, 127}, Std: [3]float32{128, 128, 128}, Layout: "NHWC"},
		FeatureDim: 1280, Note: "EfficientNet-Lite4 (TensorFlow Lite conversion), NHWC input, opset 11"},
}

func ptr[T any](v T) *T { return &v }

// LookupZoo returns the entry named name (or an alias), or nil. Case and the
// separators "-", "_", "." do not matter.
func LookupZoo(name string) *ZooEntry { return lookupIn(Zoo, name) }

// NormalizeZooName is the form names are compared in: lower case without "-", "_", ".".
func NormalizeZooName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' {
			return -1
		}
		return r
	}, strings.ToLower(name))
}

func lookupIn(zoo []ZooEntry, name string) *ZooEntry {
	// Exact names first, so that a separator-free match never shadows a real name.
	for _, norm := range []func(string) string{strings.ToLower, NormalizeZooName} {
		n := norm(name)
		for i := range zoo {
			e := &zoo[i]
			if norm(e.Name) == n {
				return e
			}
			for _, a := range e.Aliases {
				if norm(a) == n {
					return e
				}
			}
		}
	}
	return nil
}

// Cached returns the path e would have in the cache directory dir ("" = the default)
// and whether a file is there (not verified: Resolve checks its hash on use).
func (e *ZooEntry) Cached(dir string) (string, bool) {
	if dir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return "", false
		}
		dir = d
	}
	p := filepath.Join(dir, e.File)
	st, err := os.Stat(p)
	return p, err == nil && st.Mode().IsRegular()
}

// lookupBuiltin finds a zoo entry by content hash, or else by its cache file name.
func lookupBuiltin(sha, base string) *ZooEntry {
	for i := range Zoo {
		if Zoo[i].SHA256 != "" && Zoo[i].SHA256 == sha {
			return &Zoo[i]
		}
	}
	for i := range Zoo {
		if base != "" && Zoo[i].File == base {
			return &Zoo[i]
		}
	}
	return nil
}

// ZooNames lists the zoo's names, sorted.
func ZooNames() []string {
	var out []string
	for _, e := range Zoo {
		out = append(out, e.Name)
	}
	sort.Strings(out)
	return out
}

// ErrUnknownModel is wrapped by Resolve when a name is neither an existing file nor a
// zoo name. It matches errkind.ErrBadInput.
var ErrUnknownModel = errkind.Sentinel("not a zoo name", errkind.ErrBadInput)

// ErrChecksum reports a downloaded file whose sha256 differs from the zoo's.
var ErrChecksum = errors.New("checksum mismatch")

// ZooOptions configure Resolve.
type ZooOptions struct {
	// CacheDir holds downloaded models; "" is os.UserCacheDir()/multilabel/models.
	CacheDir string
	// Progress receives the download progress bar; nil is quiet.
	Progress io.Writer
	// Client makes the requests; nil is http.DefaultClient.
	Client *http.Client
	// Zoo replaces the built-in table (tests point it at a local server).
	Zoo []ZooEntry
	// Context cancels a download; nil is context.Background().
	Context context.Context
}

// DefaultCacheDir is where Resolve keeps models.
func DefaultCacheDir() (string, error) {
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no user cache directory (set XDG_CACHE_HOME or HOME): %w", err)
	}
	return filepath.Join(c, "multilabel", "models"), nil
}

// Resolve turns a zoo name, a file path or a directory into a local file path. An
// existing file is returned as is; a directory must hold exactly one .onnx file, which is
// returned (else the error matches errkind.ErrBadInput). A zoo name is looked up in the cache directory and downloaded there
// when missing: to FILE.part first (an interrupted download resumes with an HTTP Range
// request), checked against the recorded sha256 (a mismatch deletes the partial file and
// wraps ErrChecksum), then renamed into place. Entries without a recorded hash are
// accepted and their hash logged. Offline, the error says which file to put where.
func Resolve(nameOrPath string, opt ZooOptions) (string, error) {
	if st, err := os.Stat(nameOrPath); err == nil {
		if !st.IsDir() {
			return nameOrPath, nil
		}
		return onnxInDir(nameOrPath)
	}
	zoo := opt.Zoo
	if zoo == nil {
		zoo = Zoo
	}
	e := lookupIn(zoo, nameOrPath)
	if e == nil {
		var names []string
		for _, z := range zoo {
			names = append(names, z.Name)
		}
		sort.Strings(names)
		return "", fmt.Errorf("backbone %q: no such file, and %w (known: %s)", nameOrPath, ErrUnknownModel, strings.Join(names, ", "))
	}
	dir := opt.CacheDir
	if dir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	dest := filepath.Join(dir, e.File)
	if _, err := os.Stat(dest); err == nil {
		if err := verifyCached(e, dest); err != nil {
			return "", fmt.Errorf("backbone %s: %w", e.Name, err)
		}
		return dest, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("backbone %s: %w", e.Name, err)
	}
	if err := download(e, dest, opt); err != nil {
		hint := fmt.Sprintf("download %s yourself and put it at %s", e.URL, dest)
		if e.SHA256 != "" {
			hint += " (sha256 " + e.SHA256 + ")"
		}
		return "", fmt.Errorf("backbone %s: %w; %s", e.Name, err, hint)
	}
	return dest, nil
}

func download(e *ZooEntry, dest string, opt ZooOptions) error {
	ctx := opt.Context
	if ctx == nil {
		ctx = context.Background()
	}
	client := opt.Client
	if client == nil {
		client = http.DefaultClient
	}
	part := dest + ".part"
	h := sha256.New()
	var have int64
	if f, err := os.Open(part); err == nil {
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("reading %s: %w", part, err)
		}
		have = n
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.URL, nil)
	if err != nil {
		return err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", e.URL, err)
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	total := resp.ContentLength
	switch {
	case have > 0 && resp.StatusCode == http.StatusPartialContent:
		flags |= os.O_APPEND
		if total >= 0 {
			total += have
		}
		slog.Info("resuming download", "model", e.Name, "have_bytes", have)
	case have > 0 && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		// The partial file may already be complete.
		return finish(e, part, dest, h)
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC
		h.Reset()
		have = 0
	default:
		return fmt.Errorf("downloading %s: HTTP %s", e.URL, resp.Status)
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return err
	}
	var bar *progress.Bar
	if opt.Progress != nil {
		kib := int64(-1)
		if total > 0 {
			kib = (total + 1023) / 1024
		}
		bar = progress.New(opt.Progress, "download "+e.Name, kib, "KiB")
		bar.Add(int(have / 1024))
	}
	w := io.MultiWriter(f, h, kibCounter{bar: bar})
	_, cerr := io.Copy(w, resp.Body)
	bar.Finish()
	if err := f.Close(); err != nil && cerr == nil {
		cerr = err
	}
	if cerr != nil {
		return fmt.Errorf("downloading %s (rerun to resume): %w", e.URL, cerr)
	}
	return finish(e, part, dest, h)
}

func finish(e *ZooEntry, part, dest string, h hash.Hash) error {
	got := hex.EncodeToString(h.Sum(nil))
	if e.SHA256 == "" {
		slog.Warn("zoo entry has no recorded sha256; record this one", "model", e.Name, "sha256", got)
	} else if !strings.EqualFold(got, e.SHA256) {
		os.Remove(part)
		return fmt.Errorf("%w: %s has sha256 %s, want %s (the partial file was deleted)", ErrChecksum, e.URL, got, e.SHA256)
	}
	if err := os.Rename(part, dest); err != nil {
		return err
	}
	writeMarker(dest, got)
	return nil
}

// verifyCached checks a cached file (perhaps put there by hand) against the zoo hash the
// first time it is used; a DEST.sha256 marker records that it was checked.
func verifyCached(e *ZooEntry, dest string) error {
	if e.SHA256 == "" {
		return nil
	}
	if m, err := os.ReadFile(dest + ".sha256"); err == nil && strings.EqualFold(strings.TrimSpace(string(m)), e.SHA256) {
		return nil
	}
	f, err := os.Open(dest)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("reading %s: %w", dest, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if !strings.EqualFold(got, e.SHA256) {
		return fmt.Errorf("%w: %s has sha256 %s, want %s (delete it to download again)", ErrChecksum, dest, got, e.SHA256)
	}
	writeMarker(dest, got)
	return nil
}

// writeMarker records a verified hash (best effort: without it the file is only hashed
// again next time; written atomically through fsutil).
func writeMarker(dest, sum string) {
	if err := fsutil.WriteFile(dest+".sha256", []byte(sum+"\n"), 0o644); err != nil {
		slog.Debug("zoo: could not record the verified sha256", "file", dest, "err", err)
	}
}

// kibCounter advances a progress bar in KiB (approximately: remainders are dropped per
// write, which only makes the bar slightly slow).
type kibCounter struct{ bar *progress.Bar }

func (k kibCounter) Write(p []byte) (int, error) {
	if k.bar != nil {
		k.bar.Add(len(p) / 1024)
	}
	return len(p), nil
}

// onnxInDir returns the one .onnx file of dir.
func onnxInDir(dir string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.onnx"))
	if err != nil {
		return "", fmt.Errorf("backbone %s: %w", dir, err)
	}
	if len(m) != 1 {
		return "", errkind.BadInput("backbone %s: a directory with %d .onnx files; name the file", dir, len(m))
	}
	return m[0], nil
}
