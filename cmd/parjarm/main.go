// Command parjarm is a reverse-proxy gateway that adds Pushed Authorization
// Requests (RFC 9126) and JWT Secured Authorization Response Mode (JARM) to
// an existing OAuth 2.0 / OpenID Connect server.
//
// Usage:
//
//	parjarm          run the gateway, configured from PARJARM_* variables
//	parjarm check    validate the configuration, clients and keys, then exit
//	parjarm health   probe the admin listener's /healthz (container health check)
//	parjarm keys generate --alg ES256 --out FILE [--kid KID] [--status next]
//	                 write a new private signing key file (mode 0600)
//	parjarm version  print the version
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/parjarm/parjarm/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// defaultGCPercent is the garbage collector's target (GOGC) unless the
// environment sets GOGC. The gateway's live heap is small (a few MiB: the
// connections, the client registry, the keys) and nearly everything it
// allocates lives for one request, so with Go's default of 100 it collects
// after every few MiB allocated, hundreds of times a second under load.
// At 400 the heap may grow to five times the live heap between
// collections: under the flow benchmark about 15 MiB more RSS for about a
// tenth less CPU per flow (BENCHMARKS.md, "Side by side"). GOGC=100
// restores Go's default; GOMEMLIMIT works as usual.
const defaultGCPercent = 400

// tuneGC applies defaultGCPercent unless GOGC is set, and returns the
// percentage in effect.
func tuneGC(getenv func(string) string) int {
	if getenv("GOGC") != "" {
		// The runtime read it at start-up: leave it, and read it back.
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(defaultGCPercent)
	return defaultGCPercent
}

func main() {
	tuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], config.Environ(os.Environ()), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "parjarm:", err)
		os.Exit(1)
	}
}
