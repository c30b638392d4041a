package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/imageio"
)

// backboneStdout is where the backbone commands write (tests replace it).
var backboneStdout io.Writer = os.Stdout

func init() {
	register(&command{name: "backbone inspect", summary: "inputs, outputs, feature cut and preprocessing of an ONNX backbone", run: runBackboneInspect})
	register(&command{name: "backbone zoo", summary: "list the built-in pretrained backbones", run: runBackboneZoo})
}

// splitPositional moves leading positional arguments after the flags, so that
// "inspect FILE --json" and "inspect --json FILE" both work.
func splitPositional(args []string) []string {
	var pos, rest []string
	for i := 0; i < len(args); i++ {
		if strings.HasPrefix(args[i], "-") {
			rest = append(rest, args[i:]...)
			break
		}
		pos = append(pos, args[i])
	}
	return append(rest, pos...)
}

func runBackboneInspect(ctx context.Context, args []string) error {
	fs := newFlags("backbone inspect", "FILE|ZOO-NAME [--json] [--feature-node NAME] [--spec SPEC.json]")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	feature := fs.String("feature-node", "", "cut the graph at this tensor or node instead of the automatic choice")
	specFile := fs.String("spec", "", "preprocessing JSON (imageio spec) overriding sidecar/zoo/default")
	if err := parseFlags(fs, splitPositional(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf("want exactly one backbone file or zoo name, got %d arguments", fs.NArg())
	}
	opt := backbone.Options{FeatureNode: *feature}
	if *specFile != "" {
		data, err := os.ReadFile(*specFile)
		if err != nil {
			return badInput(err)
		}
		s, err := backbone.ParseSpec(data)
		if err != nil {
			return badInput(err)
		}
		opt.Spec = &s
	}
	path, err := backbone.Resolve(fs.Arg(0), backbone.ZooOptions{Progress: os.Stderr, Context: ctx})
	if err != nil {
		if backbone.LookupZoo(fs.Arg(0)) == nil {
			return badInput(err)
		}
		return err
	}
	b, err := backbone.Load(path, opt)
	if err != nil {
		// Unreadable, truncated or foreign files, unknown feature nodes and bad
		// preprocessing are all the user's input.
		return badInput(err)
	}
	r := b.Report()
	if *asJSON {
		enc := json.NewEncoder(backboneStdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.WriteText(backboneStdout)
}

func runBackboneZoo(ctx context.Context, args []string) error {
	fs := newFlags("backbone zoo", "[--json]")
	asJSON := fs.Bool("json", false, "print the table as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(backboneStdout)
		enc.SetIndent("", "  ")
		return enc.Encode(backbone.Zoo)
	}
	dir, _ := backbone.DefaultCacheDir()
	var sb strings.Builder
	sb.WriteString("name                 dim   input   sha256        notes\n")
	for _, e := range backbone.Zoo {
		sum := "(unrecorded)"
		if e.SHA256 != "" {
			sum = e.SHA256[:12]
		}
		size := "?"
		if e.Spec != nil {
			size = imageSize(*e.Spec)
		}
		sb.WriteString(pad(e.Name, 20) + " " + pad(strconv.Itoa(e.FeatureDim), 5) + " " + pad(size, 7) + " " + pad(sum, 13) + " " + e.Note + "\n")
	}
	sb.WriteString("downloads go to " + dir + "\n")
	_, err := io.WriteString(backboneStdout, sb.String())
	return err
}

func imageSize(s imageio.Spec) string { return strconv.Itoa(s.Width) + "x" + strconv.Itoa(s.Height) }

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}
