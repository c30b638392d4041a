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
}

// New starts a bar writing to w (usually os.Stderr). unit names the items ("images").
func New(w io.Writer, label string, total int64, unit string) *Bar {
	b := &Bar{w: w, label: label, total: total, unit: unit, start: time.Now(), tty: isTerminal(w)}
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
	b.maybeDraw(true)
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
	b.last = now
	el := now.Sub(b.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(b.done) / el
	}
	eta := "?"
	if rate > 0 && b.total > 0 {
		eta = (time.Duration(float64(b.total-b.done)/rate) * time.Second).Round(time.Second).String()
	}
	pct := 0.0
	if b.total > 0 {
		pct = 100 * float64(b.done) / float64(b.total)
	}
	line := fmt.Sprintf("%s %d/%d %s (%.0f%%) %.1f %s/s ETA %s", b.label, b.done, b.total, b.unit, pct, rate, b.unit, eta)
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

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil {
		return false
	}
	return st.Mode()&os.ModeCharDevice != 0
}
