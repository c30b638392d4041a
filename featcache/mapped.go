package featcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/multilabel/multilabel/internal/half"
)

// Mapped is a read-only feature matrix in a .npy file ('<f4' float32 or '<f2' float16,
// C order, rank 2) read through a memory map, for feature sets larger than memory: rows
// are read where they lie, and Release gives the pages of rows already used back to the
// kernel, so that a pass over the file in blocks keeps the resident set near one block.
type Mapped struct {
	Rows, Dim int
	// Half reports float16 storage.
	Half  bool
	data  []byte // the whole mapped file
	off   int    // where the rows start
	unmap func() error
}

// OpenMapped maps the .npy file at path.
func OpenMapped(path string) (*Mapped, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > math.MaxInt {
		return nil, fmt.Errorf("%s: too large to map", path)
	}
	data, unmap, err := mapFile(f, int(st.Size()))
	if err != nil {
		return nil, fmt.Errorf("%s: mapping: %w", path, err)
	}
	m, err := parseMapped(data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.unmap = unmap
	return m, nil
}

// parseMapped reads the .npy header of data and checks its size.
func parseMapped(data []byte) (*Mapped, error) {
	if len(data) < 10 || string(data[:6]) != string(npyMagic) {
		return nil, errors.New("npy: missing magic \\x93NUMPY")
	}
	var hlen, off int
	switch data[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(data[8:10])), 10
	case 2, 3:
		if len(data) < 12 {
			return nil, errors.New("npy: truncated header")
		}
		hlen, off = int(binary.LittleEndian.Uint32(data[8:12])), 12
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d", data[6])
	}
	if hlen < 0 || off+hlen > len(data) || hlen > 1<<20 {
		return nil, fmt.Errorf("npy: header length %d exceeds the file", hlen)
	}
	header := string(data[off : off+hlen])
	m := &Mapped{off: off + hlen}
	d := npyDescr.FindStringSubmatch(header)
	switch {
	case d == nil:
		return nil, errors.New("npy: header has no 'descr'")
	case d[1] == "<f4":
	case d[1] == "<f2":
		m.Half = true
	default:
		return nil, fmt.Errorf("npy: dtype %q, want '<f4' or '<f2'", d[1])
	}
	if o := npyOrder.FindStringSubmatch(header); o == nil || o[1] != "False" {
		return nil, errors.New("npy: want fortran_order False")
	}
	sh := npyShape.FindStringSubmatch(header)
	if sh == nil {
		return nil, errors.New("npy: header has no 'shape'")
	}
	var dims []int
	for _, f := range strings.Split(sh[1], ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 0 || v > math.MaxInt32 {
			return nil, fmt.Errorf("npy: bad shape dimension %q", f)
		}
		dims = append(dims, v)
	}
	if len(dims) != 2 {
		return nil, fmt.Errorf("npy: rank %d, want 2", len(dims))
	}
	m.Rows, m.Dim = dims[0], dims[1]
	if uint64(m.Rows)*uint64(m.Dim)*uint64(m.elem()) != uint64(len(data)-m.off) {
		return nil, fmt.Errorf("npy: %d data bytes for shape [%d, %d]", len(data)-m.off, m.Rows, m.Dim)
	}
	m.data = data
	return m, nil
}

func (m *Mapped) elem() int {
	if m.Half {
		return 2
	}
	return 4
}

// Row copies row i into dst (grown to Dim) as float32 and returns it.
func (m *Mapped) Row(i int, dst []float32) []float32 {
	dst = append(dst[:0], make([]float32, m.Dim)...)
	b := m.RawRow(i)
	if m.Half {
		tab := halfTable()
		for j := range dst {
			dst[j] = tab[uint16(b[2*j])|uint16(b[2*j+1])<<8]
		}
	} else {
		for j := range dst {
			dst[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
		}
	}
	return dst
}

// halfTable maps every float16 bit pattern to its float32 value (256 KiB, built once):
// a lookup is several times faster than converting bits per value.
var halfTable = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = half.ToFloat32(uint16(i))
	}
	return &t
})

// Release tells the kernel that rows [lo, hi) are not needed for now (their pages leave
// the resident set; a later read maps them again from the file).
func (m *Mapped) Release(lo, hi int) {
	if hi <= lo {
		return
	}
	e := m.elem() * m.Dim
	release(m.data, m.off+lo*e, m.off+hi*e)
}

// Close unmaps the file.
func (m *Mapped) Close() error {
	if m.unmap == nil {
		return nil
	}
	err := m.unmap()
	m.unmap, m.data = nil, nil
	return err
}

// BlockOrder returns an epoch's row order for rows rows: blocks of block consecutive rows
// (the last may be shorter) in random order, rows shuffled within each block. Reading in
// this order touches one block of the file at a time, so a memory-mapped pass stays
// near-sequential while minibatches still mix rows.
func BlockOrder(rows, block int, rng *rand.Rand) []int {
	if block <= 0 {
		block = rows
	}
	nb := (rows + block - 1) / max(block, 1)
	blocks := rng.Perm(nb)
	order := make([]int, 0, rows)
	for _, b := range blocks {
		lo, hi := b*block, min((b+1)*block, rows)
		start := len(order)
		for r := lo; r < hi; r++ {
			order = append(order, r)
		}
		seg := order[start:]
		rng.Shuffle(len(seg), func(i, j int) { seg[i], seg[j] = seg[j], seg[i] })
	}
	return order
}

// EncodeNPYHalf is EncodeNPY with '<f2' (float16) storage: half the size, about three
// significant digits, enough for pooled features.
func EncodeNPYHalf(w interface{ Write([]byte) (int, error) }, data []float32, rows, cols int) error {
	if rows < 0 || cols < 0 || len(data) != rows*cols {
		return fmt.Errorf("npy: %d values for shape [%d, %d]", len(data), rows, cols)
	}
	header := fmt.Sprintf("{'descr': '<f2', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	total := 10 + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	out := append([]byte{}, npyMagic...)
	out = append(out, 1, 0)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(header)))
	out = append(out, header...)
	if _, err := w.Write(out); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for i, v := range data {
		buf = binary.LittleEndian.AppendUint16(buf, half.FromFloat32(v))
		if len(buf) == cap(buf) || i == len(data)-1 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return nil
}

// ReadRowAt reads row i of the matrix from r, the file m maps, with one positioned read
// instead of through the map: for scattered rows, whose page faults would bring the
// neighbouring pages of the file into the resident set (the kernel reads around a
// fault), so that picking a few rows out of a large file costs memory for those rows
// only.
func (m *Mapped) ReadRowAt(r io.ReaderAt, i int, dst []float32) ([]float32, error) {
	if i < 0 || i >= m.Rows {
		return dst, fmt.Errorf("npy: row %d of %d", i, m.Rows)
	}
	e := m.elem()
	buf := make([]byte, m.Dim*e)
	if _, err := r.ReadAt(buf, int64(m.off)+int64(i)*int64(m.Dim*e)); err != nil {
		return dst, fmt.Errorf("npy: row %d: %w", i, err)
	}
	tab := halfTable()
	for j := range m.Dim {
		if m.Half {
			dst = append(dst, tab[binary.LittleEndian.Uint16(buf[2*j:])])
		} else {
			dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(buf[4*j:])))
		}
	}
	return dst, nil
}

// RawRow returns row i as stored in the file: Dim little-endian float16 values (Half)
// or float32 values, pointing into the map (valid until Release of the row or Close).
func (m *Mapped) RawRow(i int) []byte {
	e := m.Dim * m.elem()
	o := m.off + i*e
	return m.data[o : o+e : o+e]
}

// Float16 reports float16 storage (Half), for train.RawRows.
func (m *Mapped) Float16() bool { return m.Half }
