package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/multilabel/multilabel/imageio"
	"github.com/multilabel/multilabel/serve"
)

// tokenEnv names the environment variable serve reads its token from.
const tokenEnv = "MULTILABEL_TOKEN"

// defaultRefuseDelay is --refuse-delay's default; maxRefuseDelay its largest value, well
// inside the server's write timeout (--timeout + 5 s, at least 5 s).
const (
	defaultRefuseDelay = 500 * time.Millisecond
	maxRefuseDelay     = 5 * time.Second
)

// serveLimitFlags are serve's memory and secret flags (issue 17).
type serveLimitFlags struct {
	maxDecodedMB, decodeBudgetMB int64
	bodyTimeout                  time.Duration
	refuseDelay                  time.Duration
	refuseHeld                   int
	tokenFile                    string
	metricsAuth                  bool
}

func (f *serveLimitFlags) register(fs *pflag.FlagSet) {
	fs.Int64Var(&f.maxDecodedMB, "max-decoded-mb", imageio.DefaultMaxDecodedBytes>>20, "largest decoded size of one image in MiB, checked from its header before decoding (413 beyond)")
	fs.Int64Var(&f.decodeBudgetMB, "decode-budget-mb", serve.DefaultDecodeBudgetBytes>>20, "decoded images in flight across all requests in MiB; a request waits briefly for room, then gets 503")
	fs.DurationVar(&f.bodyTimeout, "body-timeout", 20*time.Second, "time to receive a request body, before the request takes a concurrency slot (408 beyond)")
	fs.DurationVar(&f.refuseDelay, "refuse-delay", defaultRefuseDelay, "hold a request refused with 413 (too large, too many pixels or decoded bytes) this long before answering, reading nothing more of it, to slow clients that loop such uploads (0: answer at once)")
	fs.IntVar(&f.refuseHeld, "refuse-delay-max", serve.DefaultMaxRefuseHeld, "refusals held by --refuse-delay at once; beyond it they are answered at once")
	fs.StringVar(&f.tokenFile, "token-file", "", "read the bearer token from this file (first line); preferred over --token")
	fs.BoolVar(&f.metricsAuth, "metrics-auth", false, "require the token on /metrics too")
}

// resolveToken picks the token: --token, else --token-file, else $MULTILABEL_TOKEN.
// Giving both flags is a usage error; so is --metrics-auth without any token.
func (f *serveLimitFlags) resolveToken(flag string) (string, error) {
	if f.maxDecodedMB <= 0 || f.decodeBudgetMB <= 0 {
		return "", usageErrorf("--max-decoded-mb and --decode-budget-mb must be positive")
	}
	if f.bodyTimeout <= 0 {
		return "", usageErrorf("--body-timeout must be positive")
	}
	if f.refuseDelay < 0 || f.refuseDelay > maxRefuseDelay {
		return "", usageErrorf("--refuse-delay %v: want 0 (off) to %v", f.refuseDelay, maxRefuseDelay)
	}
	if f.refuseHeld <= 0 {
		return "", usageErrorf("--refuse-delay-max must be positive")
	}
	tok := flag
	if f.tokenFile != "" {
		if flag != "" {
			return "", usageErrorf("give --token or --token-file, not both")
		}
		data, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return "", badInput(fmt.Errorf("--token-file: %w", err))
		}
		line, _, _ := bytes.Cut(data, []byte("\n"))
		tok = string(bytes.TrimSpace(line))
		if tok == "" {
			return "", badInput(fmt.Errorf("--token-file %s: empty token", f.tokenFile))
		}
	}
	if tok == "" {
		tok = os.Getenv(tokenEnv)
	}
	if f.metricsAuth && tok == "" {
		return "", usageErrorf("--metrics-auth needs a token (--token-file, $%s or --token)", tokenEnv)
	}
	return tok, nil
}

// tokenEnvState says whether $MULTILABEL_TOKEN is set, never its value.
func tokenEnvState() string {
	return "$" + tokenEnv + " is " + setOrUnset(os.Getenv(tokenEnv))
}

func setOrUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return "set"
}
