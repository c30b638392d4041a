package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/engine/ort"
)

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version (module, VCS revision, ONNX Runtime)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			_, err := fmt.Fprint(e.stdout, versionText())
			return err
		},
	}
}

// versionText is what "multilabel version" and "multilabel --version" print: the
// module version and VCS revision from the build information, and the ONNX Runtime
// library when one is found.
func versionText() string {
	var b strings.Builder
	v, rev, when, dirty := "(devel)", "", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	fmt.Fprintf(&b, "multilabel %s", v)
	if rev != "" {
		fmt.Fprintf(&b, " (revision %.12s", rev)
		if dirty {
			b.WriteString(", modified")
		}
		if when != "" {
			b.WriteString(", " + when)
		}
		b.WriteString(")")
	}
	b.WriteString("\n")
	if lib, err := ort.FindLibrary(""); err == nil {
		fmt.Fprintf(&b, "onnxruntime library %s (engine built for the %s API)\n", lib, ort.Version)
	} else {
		fmt.Fprintf(&b, "onnxruntime: not found (the pure-Go engine runs instead; see the README)\n")
	}
	return b.String()
}
