package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/parjarm/parjarm/jarm"
)

const keysUsage = "usage: parjarm keys generate --alg ES256|PS256|EdDSA|RS256|ES384 --out FILE [--kid KID] [--status active|next] [--force]"

// keysCommand runs "parjarm keys …": generate writes a new private signing
// key as a keys file in the format PARJARM_SIGNING_KEYS_FILE reads (a JWK
// Set), mode 0600, for the rotation README.md describes.
func keysCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "generate" {
		return errors.New(keysUsage)
	}
	fs := flag.NewFlagSet("parjarm keys generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	alg := fs.String("alg", "", "signing algorithm: "+strings.Join(jarm.GeneratedAlgs, ", "))
	kid := fs.String("kid", "", "key ID (default: the key's RFC 7638 thumbprint)")
	status := fs.String("status", jarm.StatusActive, `"active", or "next" for a key published ahead of its promotion`)
	out := fs.String("out", "", "file to write (mode 0600)")
	force := fs.Bool("force", false, "replace an existing file")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w\n%s", err, keysUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), keysUsage)
	}
	if *alg == "" || *out == "" {
		return errors.New("--alg and --out are required\n" + keysUsage)
	}
	data, err := jarm.GenerateKeyFile(*alg, *kid, *status)
	if err != nil {
		return err
	}
	if err := writePrivateFile(*out, data, *force); err != nil {
		return err
	}
	ks := "thumbprint"
	if *kid != "" {
		ks = *kid
	}
	fmt.Fprintf(stdout, "wrote a %s signing key (kid %s, status %s) to %s\n", *alg, ks, *status, *out)
	return nil
}

// writePrivateFile writes data to path with mode 0600, whole or not at all:
// into a temporary file beside it, then linked (refusing an existing path)
// or, with force, renamed over it. A reload polling the file never reads a
// half-written key.
func writePrivateFile(path string, data []byte, force bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".parjarm-key-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if force {
		err = os.Rename(name, path)
	} else if err = os.Link(name, path); errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists: choose another file, or pass --force to replace it", path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
