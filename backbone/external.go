package backbone

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gomlx/compute-onnx/support/protos"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/internal/onnxcheck"
)

// ErrExternalData is wrapped by errors about a tensor whose data the model stores in
// another file (ONNX external data) that cannot be used: a location that is absolute,
// climbs out with "..", or leads out of the model's directory through a symbolic link; a
// missing or short file; or a model given as bytes, with no directory to resolve in.
// It matches errkind.ErrBadInput.
var ErrExternalData = errkind.Sentinel("unusable external tensor data", errkind.ErrBadInput)

// embedExternal reads the external data of m's tensors from files inside dir and embeds
// it (raw_data), so that the graph — and the bundle made from it, under its sha256
// manifest — holds everything it uses. dir == "" (a model given as bytes) refuses any
// external reference. It returns how many tensors were embedded.
func embedExternal(m *protos.ModelProto, dir string) (int, error) {
	var tensors []*protos.TensorProto
	onnxcheck.ForEachTensor(m, func(t *protos.TensorProto) {
		if t.GetDataLocation() == protos.TensorProto_EXTERNAL {
			tensors = append(tensors, t)
		}
	})
	if len(tensors) == 0 {
		return 0, nil
	}
	if dir == "" {
		return 0, fmt.Errorf("%w: tensor %q keeps its data in another file, and the model was given without its directory (load it from its file)", ErrExternalData, tensors[0].GetName())
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return 0, fmt.Errorf("%w: model directory: %v", ErrExternalData, err)
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return 0, fmt.Errorf("%w: model directory: %v", ErrExternalData, err)
	}
	for _, t := range tensors {
		if err := embedOne(t, root); err != nil {
			return 0, fmt.Errorf("tensor %q: %w", t.GetName(), err)
		}
	}
	return len(tensors), nil
}

func embedOne(t *protos.TensorProto, root string) error {
	var loc string
	offset, length := int64(0), int64(-1)
	for _, kv := range t.GetExternalData() {
		var err error
		switch kv.GetKey() {
		case "location":
			loc = kv.GetValue()
		case "offset":
			offset, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		case "length":
			length, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		}
		if err != nil || offset < 0 || length < -1 {
			return fmt.Errorf("%w: external_data %s=%q", ErrExternalData, kv.GetKey(), kv.GetValue())
		}
	}
	path, err := insidePath(root, loc)
	if err != nil {
		return err
	}
	want := int64(1)
	for _, d := range t.GetDims() {
		want *= d // onnxcheck bounded the product
	}
	want *= onnxcheck.ElemSize(t.GetDataType())
	if length >= 0 && length != want {
		return fmt.Errorf("%w: %s: length %d, the tensor's dimensions %v need %d bytes", ErrExternalData, loc, length, t.GetDims(), want)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrExternalData, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrExternalData, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrExternalData, loc)
	}
	if offset > st.Size() || st.Size()-offset < want {
		return fmt.Errorf("%w: %s holds %d bytes, the tensor needs %d from offset %d", ErrExternalData, loc, st.Size(), want, offset)
	}
	buf := make([]byte, want)
	if _, err := f.ReadAt(buf, offset); err != nil && !(errors.Is(err, io.EOF) && want == 0) {
		return fmt.Errorf("%w: reading %s: %v", ErrExternalData, loc, err)
	}
	t.RawData = buf
	t.ExternalData = nil
	t.DataLocation = protos.TensorProto_DEFAULT
	return nil
}

// insidePath resolves an external-data location against root (a clean, absolute,
// symlink-free directory): it must be relative, must not climb with "..", and must stay
// inside root after symbolic links are followed.
func insidePath(root, loc string) (string, error) {
	if loc == "" {
		return "", fmt.Errorf("%w: no location", ErrExternalData)
	}
	if filepath.IsAbs(loc) || strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, `\`) || filepath.VolumeName(loc) != "" {
		return "", fmt.Errorf("%w: location %q is absolute; it must be a file beside the model", ErrExternalData, loc)
	}
	for _, part := range strings.FieldsFunc(loc, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return "", fmt.Errorf("%w: location %q climbs out of the model's directory", ErrExternalData, loc)
		}
	}
	p := filepath.Join(root, filepath.FromSlash(loc))
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("%w: location %q: %v", ErrExternalData, loc, err)
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%w: location %q leads out of the model's directory (symbolic link to %s)", ErrExternalData, loc, real)
	}
	return real, nil
}
