package backbone_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/errkind"
)

// zooServer serves content at /m.onnx with Range support and counts requests and the
// Range headers it saw.
func zooServer(t *testing.T, content []byte) (*httptest.Server, *atomic.Int32, *atomic.Value) {
	t.Helper()
	var hits atomic.Int32
	var lastRange atomic.Value
	lastRange.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		lastRange.Store(r.Header.Get("Range"))
		http.ServeContent(w, r, "m.onnx", time.Time{}, bytes.NewReader(content))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits, &lastRange
}

func testContent() ([]byte, string) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 kB
	sum := sha256.Sum256(content)
	return content, hex.EncodeToString(sum[:])
}

func TestResolveDownloadAndCache(t *testing.T) {
	t.Parallel()
	content, sum := testContent()
	srv, hits, _ := zooServer(t, content)
	dir := t.TempDir()
	var bar bytes.Buffer
	opt := backbone.ZooOptions{CacheDir: dir, Progress: &bar,
		Zoo: []backbone.ZooEntry{{Name: "tiny", Aliases: []string{"tiny-alias"}, File: "tiny.onnx", URL: srv.URL + "/m.onnx", SHA256: sum}}}
	p, err := backbone.Resolve("tiny", opt)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if p != filepath.Join(dir, "tiny.onnx") || !bytes.Equal(got, content) {
		t.Fatalf("downloaded %s (%d bytes)", p, len(got))
	}
	if !strings.Contains(bar.String(), "download tiny") {
		t.Errorf("no progress output: %q", bar.String())
	}
	if _, err := os.Stat(p + ".part"); !os.IsNotExist(err) {
		t.Errorf("partial file left behind: %v", err)
	}
	// Cached: no second request; the alias resolves to the same file.
	if p2, err := backbone.Resolve("TINY-alias", opt); err != nil || p2 != p || hits.Load() != 1 {
		t.Fatalf("second resolve: %s %v, %d requests", p2, err, hits.Load())
	}
	// A path is returned as is; an unknown name lists the zoo.
	if p3, err := backbone.Resolve(p, opt); err != nil || p3 != p {
		t.Fatalf("path: %s %v", p3, err)
	}
	if _, err := backbone.Resolve("nope", opt); err == nil || !strings.Contains(err.Error(), "known: tiny") {
		t.Fatalf("unknown: %v", err)
	}
}

func TestResolveResume(t *testing.T) {
	t.Parallel()
	content, sum := testContent()
	srv, hits, lastRange := zooServer(t, content)
	dir := t.TempDir()
	half := len(content) / 2
	if err := os.WriteFile(filepath.Join(dir, "tiny.onnx.part"), content[:half], 0o644); err != nil {
		t.Fatal(err)
	}
	opt := backbone.ZooOptions{CacheDir: dir,
		Zoo: []backbone.ZooEntry{{Name: "tiny", File: "tiny.onnx", URL: srv.URL + "/m.onnx", SHA256: sum}}}
	p, err := backbone.Resolve("tiny", opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := lastRange.Load().(string); got != "bytes=160000-" || hits.Load() != 1 {
		t.Fatalf("range header %q after %d requests", got, hits.Load())
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, content) {
		t.Fatal("resumed file differs")
	}
}

func TestResolveChecksumAndOffline(t *testing.T) {
	t.Parallel()
	content, _ := testContent()
	srv, _, _ := zooServer(t, content)
	dir := t.TempDir()
	wrong := strings.Repeat("ab", 32)
	opt := backbone.ZooOptions{CacheDir: dir,
		Zoo: []backbone.ZooEntry{{Name: "tiny", File: "tiny.onnx", URL: srv.URL + "/m.onnx", SHA256: wrong}}}
	_, err := backbone.Resolve("tiny", opt)
	if !errors.Is(err, backbone.ErrChecksum) {
		t.Fatalf("checksum: %v", err)
	}
	for _, f := range []string{"tiny.onnx", "tiny.onnx.part"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s exists after a checksum failure", f)
		}
	}
	// A file put in the cache by hand is checked once.
	cached := filepath.Join(dir, "tiny.onnx")
	os.WriteFile(cached, []byte("wrong content"), 0o644)
	if _, err := backbone.Resolve("tiny", opt); !errors.Is(err, backbone.ErrChecksum) || !strings.Contains(err.Error(), cached) {
		t.Fatalf("bad cached file: %v", err)
	}
	os.Remove(cached)
	// Offline: the error names the URL and where to put the file.
	srv.Close()
	_, err = backbone.Resolve("tiny", opt)
	want := filepath.Join(dir, "tiny.onnx")
	if err == nil || !strings.Contains(err.Error(), "put it at "+want) || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("offline: %v", err)
	}
}

func TestZooTable(t *testing.T) {
	t.Parallel()
	names := backbone.ZooNames()
	for _, want := range []string{"efficientnet-lite4", "mobilenetv2", "resnet50", "squeezenet"} {
		if backbone.LookupZoo(want) == nil {
			t.Errorf("zoo lacks %s (has %v)", want, names)
		}
	}
	// timm/torchvision spellings are the names; the old names are aliases of them, and
	// separators and case do not matter.
	for name, want := range map[string]string{
		"squeezenet1_1": "squeezenet1_1", "squeezenet1.1": "squeezenet1_1", "SqueezeNet1-1": "squeezenet1_1",
		"squeezenet": "squeezenet1_1_fp16", "squeezenet1.1-fp16": "squeezenet1_1_fp16",
		"mobilenet_v2": "mobilenet_v2", "mobilenetv2": "mobilenet_v2", "mobilenet-v2": "mobilenet_v2",
		"efficientnet_lite4": "efficientnet_lite4", "efficientnet-lite4": "efficientnet_lite4", "tf_efficientnet_lite4": "efficientnet_lite4",
		"resnet18": "resnet18",
	} {
		if e := backbone.LookupZoo(name); e == nil || e.Name != want {
			t.Errorf("LookupZoo(%q) = %v, want %s", name, e, want)
		}
	}
	if backbone.LookupZoo("squeezenet2") != nil || backbone.LookupZoo("resnet") != nil {
		t.Errorf("a near name matched")
	}
	// No two entries share a name or alias, even without separators.
	seen := map[string]string{}
	for _, e := range backbone.Zoo {
		for _, n := range append([]string{e.Name}, e.Aliases...) {
			k := backbone.NormalizeZooName(n)
			if o, ok := seen[k]; ok && o != e.Name {
				t.Errorf("%q of %s collides with %s", n, e.Name, o)
			}
			seen[k] = e.Name
		}
	}
	for _, e := range backbone.Zoo {
		if e.Spec == nil || e.Spec.Validate() != nil || !strings.HasPrefix(e.URL, "https://") || e.File == "" {
			t.Errorf("zoo entry %s incomplete", e.Name)
		}
		if e.SHA256 != "" && len(e.SHA256) != 64 {
			t.Errorf("zoo entry %s: sha256 %q", e.Name, e.SHA256)
		}
	}
}

// TestResolveDirAndUnknown: a directory with one .onnx file resolves to it; with none or
// two, and a name neither a file nor in the zoo, are the user's input errors.
func TestResolveDirAndUnknown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one := filepath.Join(dir, "m.onnx")
	if err := os.WriteFile(one, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := backbone.Resolve(dir, backbone.ZooOptions{}); err != nil || p != one {
		t.Errorf("Resolve(dir with one model) = %q, %v; want %q", p, err, one)
	}
	if err := os.WriteFile(filepath.Join(dir, "n.onnx"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := backbone.Resolve(dir, backbone.ZooOptions{}); !errkind.IsBadInput(err) || !strings.Contains(err.Error(), "2 .onnx files") {
		t.Errorf("Resolve(dir with two models): %v", err)
	}
	_, err := backbone.Resolve(filepath.Join(dir, "nope"), backbone.ZooOptions{Zoo: []backbone.ZooEntry{}})
	if !errors.Is(err, backbone.ErrUnknownModel) || !errkind.IsBadInput(err) || !strings.Contains(err.Error(), "not a zoo name") {
		t.Errorf("Resolve(unknown): %v", err)
	}
}
