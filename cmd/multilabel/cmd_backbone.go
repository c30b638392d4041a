package main

import (
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/multilabel/multilabel/backbone"
	"github.com/multilabel/multilabel/imageio"
)

func newBackboneCmd(e *env) *cobra.Command {
	return groupCmd("backbone", "inspect ONNX backbones and list the built-in ones", newBackboneInspectCmd(e), newBackboneZooCmd(e))
}

func newBackboneInspectCmd(e *env) *cobra.Command {
	var (
		asJSON                  bool
		feature, specFile, pool string
	)
	c := &cobra.Command{
		Use:   "inspect FILE|ZOO-NAME [--json] [--feature-node NAME] [--pool avg|max|avgmax] [--spec SPEC.json]",
		Short: "inputs, outputs, feature cut and preprocessing of an ONNX backbone",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("want exactly one backbone file or zoo name, got %d arguments", len(args))
			}
			return nil
		},
	}
	fs := c.Flags()
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.StringVar(&feature, "feature-node", "", "cut the graph at this tensor or node instead of the automatic choice (or several, comma-separated, e.g. fire8/concat_1,fire9/concat_1: their [N,C,H,W] maps, of one spatial size, joined along the channels)")
	fs.StringVar(&specFile, "spec", "", "preprocessing JSON (imageio spec) overriding sidecar/zoo/default")
	fs.StringVar(&pool, "pool", backbone.PoolAvg, "pooling of a spatial cut to report (feature width and reason): avg|max|avgmax")
	c.RunE = func(c *cobra.Command, args []string) error {
		if err := checkPool(pool, ""); err != nil {
			return err
		}
		opt := backbone.Options{FeatureNode: feature, Pool: pool}
		if specFile != "" {
			data, err := os.ReadFile(specFile)
			if err != nil {
				return badInput(err)
			}
			s, err := backbone.ParseSpec(data)
			if err != nil {
				return badInput(err)
			}
			opt.Spec = &s
		}
		path, err := backbone.Resolve(args[0], backbone.ZooOptions{Progress: e.stderr, Context: c.Context()})
		if err != nil {
			if backbone.LookupZoo(args[0]) == nil {
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
		if asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		}
		return r.WriteText(e.stdout)
	}
	return c
}

func newBackboneZooCmd(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "zoo [--json]",
		Short: "list the built-in pretrained backbones",
		Args:  noArgs,
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the table as JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		dir, _ := backbone.DefaultCacheDir()
		if asJSON {
			type entry struct {
				backbone.ZooEntry
				Cached bool   `json:"cached"`
				Path   string `json:"path,omitempty"` // the cached file, when cached
			}
			out := make([]entry, len(backbone.Zoo))
			for i := range backbone.Zoo {
				z := &backbone.Zoo[i]
				out[i].ZooEntry = *z
				if p, ok := z.Cached(dir); ok {
					out[i].Cached, out[i].Path = true, p
				}
			}
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		}
		var sb strings.Builder
		sb.WriteString("name                 dim   input   cached  sha256        aliases / notes\n")
		for i := range backbone.Zoo {
			z := &backbone.Zoo[i]
			sum := "(unrecorded)"
			if z.SHA256 != "" {
				sum = z.SHA256[:12]
			}
			size := "?"
			if z.Spec != nil {
				size = imageSize(*z.Spec)
			}
			cached := "no"
			if _, ok := z.Cached(dir); ok {
				cached = "yes"
			}
			note := z.Note
			if len(z.Aliases) > 0 {
				note = "(also " + strings.Join(z.Aliases, ", ") + ") " + note
			}
			sb.WriteString(pad(z.Name, 20) + " " + pad(strconv.Itoa(z.FeatureDim), 5) + " " + pad(size, 7) + " " + pad(cached, 7) + " " + pad(sum, 13) + " " + note + "\n")
		}
		sb.WriteString("downloads go to " + dir + " (cached: yes = downloaded there already)\n")
		_, err := io.WriteString(e.stdout, sb.String())
		return err
	}
	return c
}

func imageSize(s imageio.Spec) string { return strconv.Itoa(s.Width) + "x" + strconv.Itoa(s.Height) }

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}
