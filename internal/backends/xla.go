//go:build cgo

package backends

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/go-xla/compute/xla"
)

// The XLA backend loads its PJRT plugin with dlopen at run time, so linking it costs
// nothing on machines without a plugin. Auto-install is never enabled here: the
// auto-installer package is not imported, and plugins are opened by absolute path.
func init() {
	newXLA = func(plugin string) (compute.Backend, error) { return xla.New(plugin) }
}
