//go:build race

package imageio

// raceEnabled: the race detector makes sync.Pool drop items on purpose.
const raceEnabled = true
