// Command multilabel builds, evaluates and serves multi-label image classifiers by
// transfer learning from pretrained ONNX backbones.
//
// Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input.
//
// The command line is built on github.com/spf13/cobra (pinned at v1.10.2 in go.mod), the
// Go ecosystem's convention for multi-command tools (kubectl, gh, hugo): GNU-style
// --flags anywhere on the line, interspersed with positional arguments, "help <cmd>",
// shell completion and "did you mean" suggestions come with it. It is pinned so that
// the help layout and the completion scripts users install change only when we decide.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes, documented in the README.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// env is what one run of the command line writes to and reads from; every command gets
// it, so nothing in the package is global and tests run the CLI in parallel.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	log            *slog.Logger
	// level is the log level of log (and, from main, of slog.Default): --log-level,
	// lowered by a command's --quiet.
	level    *slog.LevelVar
	logLevel string // --log-level as given
	// started is set once cobra has found the command and parsed its flags and
	// arguments: an error before that is bad usage.
	started bool
	// getenv reads the environment ($JOB_COMPLETION_INDEX for --shard); nil is os.Getenv.
	getenv func(string) string
}

// commands is the explicit list of multilabel's commands, in the order help lists them.
func commands(e *env) []*cobra.Command {
	return []*cobra.Command{
		newDatasetCmd(e),
		newBackboneCmd(e),
		newFeaturesCmd(e),
		newTrainCmd(e),
		newEvalCmd(e),
		newPredictCmd(e),
		newExportCmd(e),
		newServeCmd(e),
		newDemoCmd(e),
		newBenchCmd(e),
		newVersionCmd(e),
	}
}

// logLevel is debug when MULTILABEL_DEBUG is set, else info.
func logLevel() slog.Level {
	if os.Getenv("MULTILABEL_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

func main() {
	// Library packages log through slog.Default unless given a logger: the same
	// message-only lines, at the same --log-level.
	level := new(slog.LevelVar)
	level.Set(logLevel())
	slog.SetDefault(slog.New(newLineHandler(os.Stderr, level)))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runWith(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, level)
	stop()
	os.Exit(code)
}

// run runs the command line args (without the program name) and returns the exit code.
// main and the tests call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	level := new(slog.LevelVar)
	level.Set(logLevel())
	return runWith(ctx, args, stdin, stdout, stderr, level)
}

// runWith is run with the log level variable that the command line's --log-level sets.
func runWith(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, level *slog.LevelVar) int {
	return runEnv(ctx, &env{level: level}, args, stdin, stdout, stderr)
}

// runEnv is run with some of e's fields preset (tests set getenv; level is the
// --log-level variable, a new one at the environment's level when nil).
func runEnv(ctx context.Context, e *env, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if args == nil {
		args = []string{} // cobra reads os.Args for a nil slice
	}
	if e.level == nil {
		e.level = new(slog.LevelVar)
		e.level.Set(logLevel())
	}
	e.stdin, e.stdout, e.stderr = stdin, stdout, stderr
	e.log = slog.New(newLineHandler(stderr, e.level))
	root := newRootCmd(e)
	root.SetArgs(joinCalibrateValue(args))
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if cmd == nil {
		cmd = root
	}
	if !e.started {
		err = &usageError{err: err}
	}
	name := cmd.CommandPath()
	fmt.Fprintf(stderr, "%s: %s\n", name, errorLine(cmd.Name(), err))
	if isUsage(err) {
		fmt.Fprintf(stderr, "\n%s", cmd.UsageString())
	}
	return exitCode(err)
}

// errorLine is the message printed after "multilabel CMD: ". Library packages start
// their messages with their own name (Go's convention), which for `train` is also the
// command's name: the line says "multilabel train: epoch 3 …" once, not
// "multilabel train: train: epoch 3 …". Only the display changes; the exit code comes
// from the error's kind (exitCode), never from its text.
func errorLine(cmdName string, err error) string {
	msg := strings.TrimRight(err.Error(), "\n")
	for cmdName != "" && strings.HasPrefix(msg, cmdName+": ") {
		msg = strings.TrimPrefix(msg, cmdName+": ")
	}
	return msg
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "multilabel",
		Short: "multi-label image classification by transfer learning",
		Long: "multilabel: multi-label image classification by transfer learning.\n\n" +
			"Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input.\n\n" +
			"Environment: ONNXRUNTIME_LIB (the ONNX Runtime library, default of --ort-lib), MULTILABEL_TOKEN\n" +
			"(default of serve --token), MULTILABEL_DEBUG (debug logging), MULTILABEL_NO_TURBOJPEG=1 (Go's\n" +
			"JPEG decoder). The engine is chosen by --engine only (default auto).",
		Version: versionText(),
		// Errors print once, as "multilabel <cmd>: <message>", from run.
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(c *cobra.Command, args []string) error {
			return usageErrorf("no command given")
		},
		PersistentPreRunE: func(c *cobra.Command, args []string) error {
			e.started = true
			if c.Flags().Changed("log-level") {
				l, err := parseLogLevel(e.logLevel)
				if err != nil {
					return usageErrorf("--log-level: %v", err)
				}
				e.level.Set(l)
			}
			warnDeprecated(e, c)
			return nil
		},
	}
	root.PersistentFlags().StringVar(&e.logLevel, "log-level", "info", "log level: debug|info|warn|error (MULTILABEL_DEBUG set: debug); logs go to stderr as plain lines")
	root.SetVersionTemplate("{{.Version}}")
	root.SetFlagErrorFunc(flagError)
	root.SetHelpCommand(newHelpCmd())
	for _, c := range commands(e) {
		root.AddCommand(c)
		flagsInUseLine(c)
	}
	return root
}

// flagsInUseLine stops cobra from appending "[flags]" to usage lines that spell their
// flags out already.
func flagsInUseLine(c *cobra.Command) {
	if strings.Contains(c.Use, "--") {
		c.DisableFlagsInUseLine = true
	}
	for _, s := range c.Commands() {
		flagsInUseLine(s)
	}
}

// newHelpCmd is "multilabel help [command]": cobra's, except that an unknown topic is
// bad usage (exit 2, with a suggestion) rather than a message and exit 0.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "help about any command",
		RunE: func(c *cobra.Command, args []string) error {
			root := c.Root()
			target, rest, err := root.Find(args)
			if err != nil {
				return &usageError{err: err}
			}
			if len(rest) > 0 && len(target.Commands()) > 0 {
				msg := fmt.Sprintf("unknown help topic %q", strings.Join(args, " "))
				if s := target.SuggestionsFor(rest[0]); len(s) > 0 {
					msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
				}
				return usageErrorf("%s", msg)
			}
			target.InitDefaultHelpFlag()
			target.InitDefaultVersionFlag()
			return target.Help()
		},
	}
}

// usageError is bad usage of the command line: exit code 2, and the command's usage
// follows the message.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf reports bad usage (exit code 2).
func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

func isUsage(err error) bool {
	var ue *usageError
	return errors.As(err, &ue)
}

// flagError turns a flag parsing error into a usage error, with a suggestion for an
// unknown flag.
func flagError(c *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if errors.As(err, &ne) {
		if s := suggestFlag(c, ne.GetSpecifiedName()); s != "" {
			return usageErrorf("%v\n\nDid you mean this?\n\t--%s", err, s)
		}
	}
	return &usageError{err: err}
}

// suggestFlag returns the visible flag of c nearest to name ("" when none is close).
func suggestFlag(c *cobra.Command, name string) string {
	if name == "" {
		return ""
	}
	best, bestD := "", 3
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := levenshtein(strings.ToLower(name), f.Name)
		if strings.HasPrefix(f.Name, name) && len(name) >= 3 {
			d = 1
		}
		if d < bestD {
			best, bestD = f.Name, d
		}
	})
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// groupCmd is a command that only holds subcommands ("dataset", "backbone", "bench"):
// alone it is bad usage, with an unknown subcommand a "did you mean".
func groupCmd(use, short string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{
		Use:   use + " <command>",
		Short: short,
		Args:  cobra.ArbitraryArgs,
		// cobra defaults it to 2 only on its own unknown-command path.
		SuggestionsMinimumDistance: 2,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("choose a command")
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
			if s := c.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
			}
			return &usageError{err: errors.New(msg)}
		},
	}
	g.AddCommand(subs...)
	return g
}

// aliasFlag adds old as a hidden, deprecated spelling of the flag name of fs: both set
// the same value; warnDeprecated says so when old is used.
func aliasFlag(fs *pflag.FlagSet, old, name string) {
	f := fs.Lookup(name)
	fs.AddFlag(&pflag.Flag{Name: old, Value: f.Value, DefValue: f.DefValue, NoOptDefVal: f.NoOptDefVal,
		Usage: "deprecated: use --" + name, Hidden: true,
		Annotations: map[string][]string{deprecatedAlias: {name}}})
}

const deprecatedAlias = "multilabel_deprecated_alias"

// warnDeprecated warns on stderr about each deprecated flag spelling used on c's line.
func warnDeprecated(e *env, c *cobra.Command) {
	c.Flags().Visit(func(f *pflag.Flag) {
		if to, ok := f.Annotations[deprecatedAlias]; ok {
			fmt.Fprintf(e.stderr, "%s: --%s is deprecated and will be removed; use --%s\n", c.CommandPath(), f.Name, to[0])
		}
	})
}

// noArgs is the Args check of commands that take no positional arguments: extra
// words are bad usage.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unexpected arguments %q", args)
	}
	return nil
}
