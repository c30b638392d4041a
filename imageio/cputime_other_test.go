//go:build !unix

package imageio

import "time"

// cpuTime is not measured on this platform.
func cpuTime() time.Duration { return 0 }
