package half

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestFromFloat32NumPy checks the half-precision conversion against NumPy (testdata/float16_ref.py).
func TestFromFloat32NumPy(t *testing.T) {
	f, err := os.Open("testdata/float16_ref.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		in, _ := strconv.ParseUint(parts[0], 16, 32)
		want, _ := strconv.ParseUint(parts[1], 16, 16)
		v := math.Float32frombits(uint32(in))
		if got := FromFloat32(v); got != uint16(want) {
			t.Errorf("FromFloat32(%g) = %04x, NumPy says %04x", v, got, want)
		}
		n++
	}
	if n < 50 {
		t.Fatalf("only %d reference values", n)
	}
}

// halfRef decodes binary16 independently: (-1)^s · 2^(e-15) · (1 + m/1024), subnormals
// 2^-14 · m/1024, computed in float64.
func halfRef(h uint16) float64 {
	s := 1.0
	if h&0x8000 != 0 {
		s = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return s * math.Ldexp(m/1024, -14)
	case 31:
		if m == 0 {
			return math.Inf(int(s))
		}
		return math.NaN()
	}
	return s * math.Ldexp(1+m/1024, e-15)
}

func TestToFloat32Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		got := float64(ToFloat32(uint16(i)))
		want := halfRef(uint16(i))
		if math.IsNaN(want) {
			if !math.IsNaN(got) {
				t.Fatalf("%#04x: got %v, want NaN", i, got)
			}
			continue
		}
		if got != want || math.Signbit(got) != math.Signbit(want) {
			t.Fatalf("%#04x: got %v, want %v", i, got, want)
		}
	}
	if ToFloat32(0x3c00) != 1 || ToFloat32(0x7bff) != 65504 || ToFloat32(0xc000) != -2 {
		t.Fatal("known values")
	}
}

// TestFromFloat32Known checks special values against their known binary16 bit
// patterns: NaN stays NaN (the bench copy this replaced turned it into Inf), infinities,
// overflow, subnormals and ties rounding to even.
func TestFromFloat32Known(t *testing.T) {
	t.Parallel()
	f := math.Float32frombits
	for _, c := range []struct {
		name string
		in   float32
		want uint16
	}{
		{"+0", 0, 0x0000},
		{"-0", f(0x80000000), 0x8000},
		{"1", 1, 0x3c00},
		{"-2", -2, 0xc000},
		{"max half", 65504, 0x7bff},
		{"overflow", 1e6, 0x7c00},
		{"rounds to Inf", 65520, 0x7c00},     // halfway between 65504 and 65536: ties to even (Inf)
		{"rounds to max", 65519.996, 0x7bff}, // just below the tie
		{"+Inf", float32(math.Inf(1)), 0x7c00},
		{"-Inf", float32(math.Inf(-1)), 0xfc00},
		{"NaN", float32(math.NaN()), 0x7e00},
		{"-NaN", f(0xffc00000), 0xfe00},
		{"signalling NaN", f(0x7f800001), 0x7e00},
		{"smallest normal", 6.1035156e-05, 0x0400},
		{"smallest subnormal", 5.9604645e-08, 0x0001},
		{"largest subnormal", f(0x387fc000), 0x03ff},
		{"half the smallest subnormal: tie to even 0", f(0x33000000), 0x0000},
		{"above half the smallest subnormal", f(0x33000001), 0x0001},
		{"1.5 × smallest subnormal: tie to even 2", f(0x33c00000), 0x0002},
		{"underflow", 1e-8, 0x0000},
		{"-underflow", -1e-8, 0x8000},
		{"0.1", 0.1, 0x2e66},
		{"tie down to even: 1+2^-11", f(0x3f801000), 0x3c00},
		{"tie up to even: 1+3·2^-11", f(0x3f803000), 0x3c02},
		{"above tie: 1+2^-11+2^-23", f(0x3f801001), 0x3c01},
		{"subnormal carries into normal", f(0x387fe000), 0x0400},
	} {
		got := FromFloat32(c.in)
		if got != c.want {
			t.Errorf("%s: FromFloat32(%g = %#08x) = %#04x, want %#04x", c.name, c.in, math.Float32bits(c.in), got, c.want)
		}
		back := ToFloat32(got)
		if math.IsNaN(float64(c.in)) != math.IsNaN(float64(back)) {
			t.Errorf("%s: NaN-ness lost: %g -> %#04x -> %g", c.name, c.in, got, back)
		}
	}
}

// TestRoundTrip: every non-NaN half value converts to float32 and back unchanged.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue // NaN: payloads are not kept
		}
		if got := FromFloat32(ToFloat32(h)); got != h {
			t.Fatalf("%#04x -> %g -> %#04x", h, ToFloat32(h), got)
		}
	}
}
