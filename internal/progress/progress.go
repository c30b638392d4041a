// Package progress shows the advance of long work: a redrawn bar with rate and ETA on a
// terminal, and a plain line every few seconds when the output is not a terminal (logs,
// CI), so pipes stay line-oriented.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Bar reports progress of a job with a known total. It is safe for concurrent use.
// A nil *Bar is valid and does nothing, so callers can pass nil to stay quiet.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	label    string
	unit     string
	total    int64
	done     int64
	extra    string
	start    time.Time
	last     time.Time
	interval time.Duration
	finished bool
	drawn    int64 // done at the last line drawn (-1: none yet)
}

// New starts a bar writing to w (usually os.Stderr). unit names the items ("images").
func New(w io.Writer, label string, total int64, unit string) *Bar {
	now := time.Now()
	// The first line comes after one interval, not at the first item (whose rate
	// would be meaningless).
	b := &Bar{w: w, label: label, total: total, unit: unit, start: now, last: now, tty: isTerminal(w), drawn: -1}
	b.interval = 5 * time.Second
	if b.tty {
		b.interval = 150 * time.Millisecond
	}
	return b
}

// Add advances the bar by n items.
func (b *Bar) Add(n int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += int64(n)
	b.maybeDraw(false)
}

// SetExtra sets a free-form suffix such as "loss 0.123 val mAP 0.91".
func (b *Bar) SetExtra(s string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.extra = s
	b.mu.Unlock()
}

// Finish draws the final state and ends the line.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	if b.drawn != b.done || b.tty {
		b.maybeDraw(true)
	}
	b.finished = true
	if b.tty {
		fmt.Fprintln(b.w)
	}
}

// Rate returns items per second so far.
func (b *Bar) Rate() float64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	el := time.Since(b.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(b.done) / el
}

func (b *Bar) maybeDraw(force bool) {
	now := time.Now()
	if !force && now.Sub(b.last) < b.interval {
		return
	}
	b.last, b.drawn = now, b.done
	el := now.Sub(b.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(b.done) / el
	}
	eta := "?"
	if rate > 0 && b.total > 0 {
		eta = time.Duration(float64(b.total-b.done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	if force && b.total > 0 {
		eta = "done in " + time.Duration(el*float64(time.Second)).Round(100*time.Millisecond).String()
	}
	pct := 0.0
	if b.total > 0 {
		pct = 100 * float64(b.done) / float64(b.total)
	}
	line := fmt.Sprintf("%s %d/%d %s (%.0f%%) %s %s/s", b.label, b.done, b.total, b.unit, pct, formatRate(rate), b.unit)
	if strings.HasPrefix(eta, "done") {
		line += " " + eta
	} else {
		line += " ETA " + eta
	}
	if b.extra != "" {
		line += " " + b.extra
	}
	if b.tty {
		width := 24
		fill := 0
		if b.total > 0 {
			fill = int(float64(width) * float64(b.done) / float64(b.total))
		}
		if fill > width {
			fill = width
		}
		bar := "[" + strings.Repeat("=", fill) + strings.Repeat(" ", width-fill) + "] "
		fmt.Fprintf(b.w, "\r\033[K%s%s", bar, line)
		return
	}
	fmt.Fprintln(b.w, line)
}

// formatRate prints a rate with three significant digits at most ("0.52", "12.3",
// "451", "12k"), so a burst over a few microseconds does not print "121966.1".
func formatRate(r float64) string {
	switch {
	case r >= 10000:
		return fmt.Sprintf("%.0fk", r/1000)
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

// isTerminal reports whether w is a terminal: a file whose descriptor the terminal
// ioctl accepts (character devices such as /dev/null are not terminals; pipes and
// regular files neither).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}
