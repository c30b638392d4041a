package memstat

import (
	"runtime"
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	raw := []byte("Name:\tx\nVmPeak:\t  100 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1024 kB\n")
	if v, err := parseStatus(raw, "VmHWM:"); err != nil || v != 2048<<10 {
		t.Errorf("VmHWM = %d, %v", v, err)
	}
	if _, err := parseStatus(raw, "VmSwap:"); err != ErrUnavailable {
		t.Errorf("missing field: %v", err)
	}
	for _, bad := range []string{"VmHWM: 12 MB\n", "VmHWM: -3 kB\n", "VmHWM: x kB\n", "VmHWM:\n"} {
		if _, err := parseStatus([]byte(bad), "VmHWM:"); err == nil || !strings.Contains(err.Error(), "VmHWM") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("VmHWM:\t 2048 kB\n"), "VmHWM:")
	f.Fuzz(func(t *testing.T, raw []byte, name string) {
		if v, err := parseStatus(raw, name); err == nil && v < 0 {
			t.Fatalf("negative value %d", v)
		}
	})
}

// TestPeakFollowsAllocation: touching 256 MiB raises the peak by about that much; after
// the memory is dropped, ResetPeak brings the peak back down.
func TestPeakFollowsAllocation(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peak RSS is read on Linux only")
	}
	if !ResetPeak() {
		t.Skip("/proc/self/clear_refs not writable here")
	}
	p0, err := PeakRSSBytes()
	if err != nil {
		t.Fatal(err)
	}
	const size = 256 << 20
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte(i)
	}
	p1, err := PeakRSSBytes()
	if err != nil {
		t.Fatal(err)
	}
	if p1-p0 < size*9/10 {
		t.Errorf("peak rose by %d MiB after touching %d MiB", (p1-p0)>>20, size>>20)
	}
	runtime.KeepAlive(buf)
	buf = nil
	runtime.GC()
	if !ResetPeak() {
		t.Fatal("second reset failed")
	}
	p2, err := PeakRSSBytes()
	if err != nil {
		t.Fatal(err)
	}
	if p2 > p1-size/2 {
		t.Errorf("peak after reset %d MiB, before %d MiB", p2>>20, p1>>20)
	}
	if r, err := RSSBytes(); err != nil || r <= 0 || r > p1 {
		t.Errorf("RSS %d (%v) vs peak %d", r, err, p1)
	}
	if PeakRSSMB() <= 0 {
		t.Error("PeakRSSMB is 0")
	}
}
