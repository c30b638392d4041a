package featcache

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/multilabel/multilabel/errkind"
	"github.com/multilabel/multilabel/internal/fsutil"
)

var npyMagic = []byte("\x93NUMPY")

// WriteNPY writes a float32 matrix [rows, cols] (row-major data) as a NumPy .npy file,
// format version 1.0, dtype '<f4', C order. The file appears atomically (temp + rename).
func WriteNPY(path string, data []float32, rows, cols int) error {
	if rows < 0 || cols < 0 || len(data) != rows*cols {
		return fmt.Errorf("npy %s: %d values for shape [%d, %d]", path, len(data), rows, cols)
	}
	var buf bytes.Buffer
	if err := EncodeNPY(&buf, data, rows, cols); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("npy %s: %w", path, err)
	}
	return writeAtomic(path, buf.Bytes(), true)
}

// WriteNPYWithNames writes the matrix [rows, cols] as a .npy file at npyPath and names
// (one per row) at namesPath so that the two cannot disagree: both are written to
// temporary files first and renamed into place only when both are complete, the names
// last. A failure (a full disk) leaves the old pair untouched.
func WriteNPYWithNames(npyPath, namesPath string, data []float32, rows, cols int, names []string) error {
	if len(names) != rows {
		return fmt.Errorf("npy %s: %d names for %d rows", npyPath, len(names), rows)
	}
	if rows < 0 || cols < 0 || len(data) != rows*cols {
		return fmt.Errorf("npy %s: %d values for shape [%d, %d]", npyPath, len(data), rows, cols)
	}
	var npy, lines bytes.Buffer
	if err := EncodeNPY(&npy, data, rows, cols); err != nil {
		return err
	}
	for _, l := range names {
		if strings.ContainsAny(l, "\r\n") {
			return fmt.Errorf("%s: %w", namesPath, errkind.BadInput("entry %q contains a line break", l))
		}
		lines.WriteString(l)
		lines.WriteByte('\n')
	}
	for _, p := range []string{npyPath, namesPath} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return fsutil.WriteFiles([]fsutil.File{
		{Path: npyPath, Data: npy.Bytes(), Perm: 0o644},
		{Path: namesPath, Data: lines.Bytes(), Perm: 0o644},
	})
}

// npyHeaderF4 is the .npy header (magic, version 1.0, length, dictionary) of a float32
// [rows, cols] matrix: magic(6) + version(2) + header length(2) + header, padded with
// spaces and ended by '\n' to a multiple of 64 bytes.
func npyHeaderF4(rows, cols int) []byte {
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	total := 10 + len(header) + 1
	pad := (64 - total%64) % 64
	header += strings.Repeat(" ", pad) + "\n"
	b := append([]byte{}, npyMagic...)
	b = append(b, 1, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	return append(b, header...)
}

// EncodeNPY writes the .npy encoding of a float32 [rows, cols] matrix to w.
func EncodeNPY(w io.Writer, data []float32, rows, cols int) error {
	if rows < 0 || cols < 0 || len(data) != rows*cols {
		return fmt.Errorf("npy: %d values for shape [%d, %d]", len(data), rows, cols)
	}
	bw := bufio.NewWriter(w)
	bw.Write(npyHeaderF4(rows, cols))
	var b [4]byte
	for _, v := range data {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		bw.Write(b[:])
	}
	return bw.Flush()
}

// WriteLines writes one line per entry (for the names file beside a .npy), atomically.
// An entry containing a line break is an error.
func WriteLines(path string, lines []string) error {
	var buf bytes.Buffer
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			return fmt.Errorf("%s: entry %q contains a line break", path, l)
		}
		buf.WriteString(l)
		buf.WriteByte('\n')
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeAtomic(path, buf.Bytes(), true)
}

var (
	npyDescr = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	npyOrder = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	npyShape = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// ReadNPY reads a little-endian float32, C-order .npy file of rank 1 or 2 and returns its
// data and shape ([n] or [rows, cols]).
func ReadNPY(path string) ([]float32, []int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	data, shape, err := DecodeNPY(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, shape, nil
}

// DecodeNPY parses the bytes of a .npy file (versions 1.0-3.0) holding '<f4' data in C
// order.
func DecodeNPY(b []byte) ([]float32, []int, error) {
	if len(b) < 10 || !bytes.Equal(b[:6], npyMagic) {
		return nil, nil, errors.New("npy: missing magic \\x93NUMPY")
	}
	var hlen, off int
	switch b[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return nil, nil, errors.New("npy: truncated header")
		}
		hlen, off = int(binary.LittleEndian.Uint32(b[8:12])), 12
	default:
		return nil, nil, fmt.Errorf("npy: unsupported format version %d.%d", b[6], b[7])
	}
	if hlen < 0 || off+hlen > len(b) {
		return nil, nil, fmt.Errorf("npy: header length %d exceeds the file", hlen)
	}
	header := string(b[off : off+hlen])
	m := npyDescr.FindStringSubmatch(header)
	if m == nil {
		return nil, nil, errors.New("npy: header has no 'descr'")
	}
	if m[1] != "<f4" {
		return nil, nil, fmt.Errorf("npy: dtype %q, want '<f4'", m[1])
	}
	if m := npyOrder.FindStringSubmatch(header); m == nil || m[1] != "False" {
		return nil, nil, errors.New("npy: want fortran_order False")
	}
	m = npyShape.FindStringSubmatch(header)
	if m == nil {
		return nil, nil, errors.New("npy: header has no 'shape'")
	}
	var shape []int
	n := 1
	for _, f := range strings.Split(m[1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 || d > math.MaxInt32 {
			return nil, nil, fmt.Errorf("npy: bad shape dimension %q", f)
		}
		shape = append(shape, d)
		if d > 0 && n > math.MaxInt32/d {
			return nil, nil, errors.New("npy: shape too large")
		}
		n *= d
	}
	if len(shape) < 1 || len(shape) > 2 {
		return nil, nil, fmt.Errorf("npy: rank %d, want 1 or 2", len(shape))
	}
	body := b[off+hlen:]
	if len(body) != 4*n {
		return nil, nil, fmt.Errorf("npy: %d data bytes, want %d for shape %v", len(body), 4*n, shape)
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return data, shape, nil
}
