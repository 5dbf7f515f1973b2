package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/jarm"
)

func TestKeysGenerate(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "keys.json")
	keys := func(args ...string) (string, error) {
		var b syncBuffer
		err := run(context.Background(), append([]string{"keys"}, args...), map[string]string{}, &b)
		return b.String(), err
	}
	msg, err := keys("generate", "--alg", "ES256", "--kid", "sig-2026", "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "kid sig-2026") {
		t.Errorf("output %q", msg)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	first, _ := os.ReadFile(out)
	ks, err := jarm.LoadKeys(out)
	if err != nil {
		t.Fatal(err)
	}
	if kids := ks.KIDs(); len(kids) != 1 || kids[0] != "sig-2026" {
		t.Fatalf("kids %v", kids)
	}
	// The file is what PARJARM_SIGNING_KEYS_FILE reads.
	var b syncBuffer
	if err := run(context.Background(), []string{"check"}, map[string]string{"PARJARM_UPSTREAM_URL": "http://127.0.0.1:1",
		"PARJARM_SIGNING_KEYS_FILE": out, "PARJARM_DEFAULT_SIGNING_ALG": "ES256"}, &b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "signing keys sig-2026 (active)") {
		t.Errorf("check: %q", b.String())
	}

	if _, err := keys("generate", "--alg", "PS256", "--out", out); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("overwrote without --force: %v", err)
	}
	if now, _ := os.ReadFile(out); string(now) != string(first) {
		t.Fatal("the refused write changed the file")
	}
	if _, err := keys("generate", "--alg", "EdDSA", "--status", "next", "--force", "--out", out); err != nil {
		t.Fatal(err)
	}
	if now, _ := os.ReadFile(out); !strings.Contains(string(now), `"status": "next"`) || !strings.Contains(string(now), `"EdDSA"`) {
		t.Fatalf("--force did not replace the file: %s", now)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced file mode %v", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".parjarm-key-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "usage: parjarm keys generate"},
		{[]string{"rotate"}, "usage: parjarm keys generate"},
		{[]string{"generate", "--alg", "ES256"}, "--alg and --out are required"},
		{[]string{"generate", "--out", filepath.Join(dir, "x.json")}, "--alg and --out are required"},
		{[]string{"generate", "--alg", "HS256", "--out", filepath.Join(dir, "x.json")}, `alg "HS256"`},
		{[]string{"generate", "--alg", "ES256", "--status", "retired", "--out", filepath.Join(dir, "x.json")}, `status "retired"`},
		{[]string{"generate", "--alg", "ES256", "--out", filepath.Join(dir, "x.json"), "extra"}, `unexpected argument "extra"`},
		{[]string{"generate", "--bogus"}, "flag provided but not defined"},
		{[]string{"generate", "--alg", "ES256", "--out", filepath.Join(dir, "missing", "x.json")}, "write"},
	} {
		if _, err := keys(tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("keys %v: %v, want %q", tt.args, err, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.json")); !os.IsNotExist(err) {
		t.Error("a refused generate wrote a file")
	}
}
