// Package memstat reads this process's peak resident memory (RSS), for the memory
// figures of `bench train` and of fine-tuning. On Linux the peak is the kernel's VmHWM
// (/proc/self/status), which ResetPeak can set back to the current RSS, so a section of
// a run can be measured on its own; elsewhere no figure is available.
package memstat

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// ErrUnavailable is returned where the platform gives no peak RSS.
var ErrUnavailable = errors.New("memstat: peak RSS not available on this platform")

// PeakRSSBytes returns the peak resident set size of the process (since it started or
// since the last successful ResetPeak).
func PeakRSSBytes() (int64, error) {
	return statusField("VmHWM:")
}

// RSSBytes returns the current resident set size of the process.
func RSSBytes() (int64, error) {
	return statusField("VmRSS:")
}

// PeakRSSMB is PeakRSSBytes in MiB, 0 when unavailable.
func PeakRSSMB() float64 {
	b, err := PeakRSSBytes()
	if err != nil {
		return 0
	}
	return float64(b) / (1 << 20)
}

// ResetPeak returns the Go heap's free memory to the system and sets the peak back to
// the current RSS (Linux ≥ 4.0: "5" written to /proc/self/clear_refs). It reports
// whether the reset happened.
func ResetPeak() bool {
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// statusField reads one "Name:   N kB" line of /proc/self/status, in bytes.
func statusField(name string) (int64, error) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, ErrUnavailable
	}
	return parseStatus(raw, name)
}

// parseStatus finds the line starting with name in a /proc/PID/status text and returns
// its value in bytes (the kernel writes kB).
func parseStatus(raw []byte, name string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, errors.New("memstat: status line " + strconv.Quote(sc.Text()) + ": want \"" + name + " N kB\"")
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || v < 0 {
			return 0, errors.New("memstat: status line " + strconv.Quote(sc.Text()) + ": bad number")
		}
		return v << 10, nil
	}
	return 0, ErrUnavailable
}
