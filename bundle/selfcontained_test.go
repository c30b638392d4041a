package bundle_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute-onnx/support/protos"
	"google.golang.org/protobuf/proto"

	"github.com/multilabel/multilabel/bundle"
	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/model/modeltest"
)

// TestBundleHugeFileRefused: a valid bundle followed by a 6 GB hole (once read whole:
// 30 s and 6.4 GB, then exit 0) is refused from its manifest. Read allocates the whole
// file before decoding, so a pass here also shows the file was not read.
func TestBundleHugeFileRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "m.mlb")
	mustSave(t, modeltest.Bundle(), path)
	if err := os.Truncate(path, 6<<30); err != nil {
		t.Skipf("no sparse files here: %v", err)
	}
	_, err := bundle.Read(path)
	if !errors.Is(err, bundle.ErrCorrupt) || !strings.Contains(err.Error(), "manifest accounts for") {
		t.Fatalf("Read = %v", err)
	}
	// A little trailing padding (tar tools pad to 10 KiB records) is still fine.
	path2 := filepath.Join(t.TempDir(), "m.mlb")
	mustSave(t, modeltest.Bundle(), path2)
	st, _ := os.Stat(path2)
	if err := os.Truncate(path2, st.Size()+9*1024); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.Read(path2); err != nil {
		t.Errorf("bundle with 9 KiB of padding: %v", err)
	}
}

// TestBundleExternalDataRefused: a bundle whose backbone keeps tensor data in another
// file (once accepted with a reference to ../../../../etc/passwd) is refused at Save and
// at load.
func TestBundleExternalDataRefused(t *testing.T) {
	t.Parallel()
	b := modeltest.Bundle()
	var m protos.ModelProto
	if err := proto.Unmarshal(b.Backbone, &m); err != nil {
		t.Fatal(err)
	}
	m.Graph.Initializer = append(m.Graph.Initializer, &protos.TensorProto{Name: "w_ext", Dims: []int64{4},
		DataType: int32(protos.TensorProto_FLOAT), DataLocation: protos.TensorProto_EXTERNAL,
		ExternalData: []*protos.StringStringEntryProto{{Key: "location", Value: "../../../../etc/passwd"}}})
	var err error
	if b.Backbone, err = proto.Marshal(&m); err != nil {
		t.Fatal(err)
	}
	err = b.Save(filepath.Join(t.TempDir(), "m.mlb"))
	if err == nil || !strings.Contains(err.Error(), "self-contained") {
		t.Fatalf("Save = %v", err)
	}
	if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "etc/passwd") {
		t.Errorf("Validate = %v", err)
	}
	// Decoding a bundle that holds such a backbone (written by hand) is refused too.
	data := writeRawBundle(t, b)
	if _, err = bundle.Decode(data, "ext.mlb"); !errors.Is(err, bundle.ErrCorrupt) || !strings.Contains(err.Error(), "self-contained") {
		t.Errorf("Decode = %v", err)
	}
	if !errkind.IsBadInput(err) {
		t.Errorf("%v does not match errkind.ErrBadInput", err)
	}
}

// writeRawBundle saves a valid bundle, then swaps b.Backbone in as its backbone member,
// with the manifest rewritten to match: a bundle Save would refuse to write.
func writeRawBundle(t *testing.T, b *bundle.Bundle) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ok.mlb")
	mustSave(t, modeltest.Bundle(), path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type mem struct {
		h    *tar.Header
		body []byte
	}
	var mems []mem
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		body, _ := io.ReadAll(tr)
		if h.Name == "backbone.onnx" {
			body = b.Backbone
		}
		mems = append(mems, mem{h, body})
	}
	var man bundle.Manifest
	if err := json.Unmarshal(mems[0].body, &man); err != nil {
		t.Fatal(err)
	}
	for i, it := range man.Members {
		if it.Name == "backbone.onnx" {
			sum := sha256.Sum256(b.Backbone)
			man.Members[i].Size, man.Members[i].SHA256 = int64(len(b.Backbone)), hex.EncodeToString(sum[:])
		}
	}
	mems[0].body, _ = json.Marshal(man)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range mems {
		m.h.Size = int64(len(m.body))
		tw.WriteHeader(m.h)
		tw.Write(m.body)
	}
	tw.Close()
	return buf.Bytes()
}
