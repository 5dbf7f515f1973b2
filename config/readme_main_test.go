package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEHasTheVariableTable keeps the main README's configuration table
// identical to README-vars.md, so operators read every variable and default.
func TestREADMEHasTheVariableTable(t *testing.T) {
	vars, err := os.ReadFile("README-vars.md")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(vars), "\n") {
		if strings.HasPrefix(line, "| `PARJARM_") && !strings.Contains(string(readme), line+"\n") {
			t.Errorf("README.md lacks the row:\n%s", line)
		}
	}
}
