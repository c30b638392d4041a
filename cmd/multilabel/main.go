// Command multilabel builds, evaluates and serves multi-label image classifiers by
// transfer learning from pretrained ONNX backbones.
//
// Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit codes, documented in the README.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// command is one subcommand. Subcommands register themselves from init functions in
// their own cmd_*.go file, so adding one never touches this file.
type command struct {
	name    string // "train" or a two-word group such as "dataset inspect"
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("duplicate command " + c.name)
	}
	commands[c.name] = c
}

// exitError carries an exit code through an error chain.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf reports bad usage (exit code 2).
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// badInput marks an error caused by the user's input files (exit code 2).
func badInput(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: exitUsage, err: err}
}

// newFlags returns a FlagSet whose errors are returned, not printed-and-exited, and whose
// help text names the command.
func newFlags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: multilabel %s %s\n\nflags:\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; -h/--help prints usage and ends the command successfully.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return &exitError{code: exitUsage, err: err}
	}
	return nil
}

var errHelp = errors.New("help requested")

func usage(w io.Writer) {
	fmt.Fprintln(w, "multilabel: multi-label image classification by transfer learning")
	fmt.Fprintln(w, "\nusage: multilabel <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'multilabel <command> --help' for a command's flags.")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input.")
}

// lookup finds the command named by the first one or two words of args.
func lookup(args []string) (*command, []string) {
	if len(args) >= 2 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return c, args[2:]
		}
	}
	if len(args) >= 1 {
		if c, ok := commands[args[0]]; ok {
			return c, args[1:]
		}
	}
	return nil, args
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	level := slog.LevelInfo
	if os.Getenv("MULTILABEL_DEBUG") != "" {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))

	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(os.Stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, rest := lookup(args)
	if c == nil {
		// A group name alone ("dataset") lists its subcommands.
		var sub []string
		for n := range commands {
			if strings.HasPrefix(n, args[0]+" ") {
				sub = append(sub, n)
			}
		}
		sort.Strings(sub)
		if len(sub) > 0 {
			fmt.Fprintf(os.Stderr, "multilabel %s: choose one of: %s\n", args[0], strings.Join(sub, ", "))
		} else {
			fmt.Fprintf(os.Stderr, "multilabel: unknown command %q\n\n", args[0])
			usage(os.Stderr)
		}
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := c.run(ctx, rest)
	if err == nil || errors.Is(err, errHelp) {
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "multilabel %s: %v\n", c.name, err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailure
}
