package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunRefusesABadErrorPage: an error page template or locale file that
// does not load stops start-up (and `check`) with the variable, the file
// and, for a template, the line.
func TestRunRefusesABadErrorPage(t *testing.T) {
	badTemplate := writeFile(t, "error.html", "<!DOCTYPE html>\n<h1>{{.Title}</h1>\n")
	locales := t.TempDir()
	if err := os.WriteFile(filepath.Join(locales, "de.json"), []byte(`{"kinds": {"expired": {"title": "x"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string
	}{
		{"a template that does not parse", map[string]string{"PARJARM_ERROR_TEMPLATE": badTemplate},
			[]string{"PARJARM_ERROR_TEMPLATE", badTemplate, "error.html:2:"}},
		{"a missing template", map[string]string{"PARJARM_ERROR_TEMPLATE": "/nonexistent/error.html"},
			[]string{"PARJARM_ERROR_TEMPLATE", "/nonexistent/error.html"}},
		{"a locale file with an unknown kind", map[string]string{"PARJARM_ERROR_LOCALES": locales},
			[]string{"PARJARM_ERROR_LOCALES", "de.json", `"expired"`}},
	}
	for _, tt := range tests {
		for _, cmd := range []string{"serve", "check"} {
			t.Run(tt.name+" ("+cmd+")", func(t *testing.T) {
				env := map[string]string{"PARJARM_UPSTREAM_URL": "http://127.0.0.1:1", "PARJARM_STARTUP_TIMEOUT": "1s",
					"PARJARM_LISTEN_ADDR": freeAddr(t), "PARJARM_ADMIN_ADDR": freeAddr(t)}
				for k, v := range tt.env {
					env[k] = v
				}
				var out syncBuffer
				err := run(context.Background(), []string{cmd}, env, &out)
				if err == nil {
					t.Fatal("run accepted the error page")
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
			})
		}
	}
}

func TestCheckAcceptsAnErrorTemplate(t *testing.T) {
	tmpl := writeFile(t, "error.html", `<!DOCTYPE html><html lang="{{.Lang}}"><title>{{.Title}}</title><p>{{.Message}} {{.Reference}}</p></html>`)
	env := map[string]string{"PARJARM_UPSTREAM_URL": "http://127.0.0.1:1", "PARJARM_ERROR_TEMPLATE": tmpl}
	var out syncBuffer
	if err := run(context.Background(), []string{"check"}, env, &out); err != nil {
		t.Fatal(err)
	}
}
