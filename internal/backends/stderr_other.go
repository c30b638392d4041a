//go:build !unix

package backends

// withORTNoticesDropped runs f; outside unix, standard error is not filtered.
func withORTNoticesDropped(f func()) { f() }
