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
	"syscall"

	"github.com/parjarm/parjarm/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], config.Environ(os.Environ()), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "parjarm:", err)
		os.Exit(1)
	}
}
