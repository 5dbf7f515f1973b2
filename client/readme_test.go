package client_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/client"
)

// TestREADMEListsEveryRegistryName keeps the README's client registry table
// in step with the names the registry accepts: each acted-on name says
// "acted on", each kept one "kept and ignored", and no other name is listed.
func TestREADMEListsEveryRegistryName(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if strings.HasPrefix(name, "PARJARM_") {
			continue
		}
		how := strings.TrimSpace(cells[2])
		switch {
		case strings.HasPrefix(how, "acted on"):
			rows[name] = "acted"
		case strings.HasPrefix(how, "kept and ignored"):
			rows[name] = "kept"
		}
	}
	acted, kept := client.ActedMetadata(), client.KeptMetadata()
	for _, n := range acted {
		if rows[n] != "acted" {
			t.Errorf("README: %q is not listed as acted on", n)
		}
	}
	for _, n := range kept {
		if rows[n] != "kept" {
			t.Errorf("README: %q is not listed as kept and ignored", n)
		}
	}
	for n := range rows {
		if !slices.Contains(acted, n) && !slices.Contains(kept, n) {
			t.Errorf("README lists %q, which the registry does not accept", n)
		}
	}
}
