package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// readmeRow is one row of the README-vars.md table.
type readmeRow struct{ name, def, meaning string }

// readmeRows parses the variable table of README-vars.md.
func readmeRows(t *testing.T) []readmeRow {
	t.Helper()
	b, err := os.ReadFile("README-vars.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []readmeRow
	for line := range strings.SplitSeq(string(b), "\n") {
		if !strings.HasPrefix(line, "| `"+Prefix) {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), " | ")
		if len(cells) != 3 {
			t.Fatalf("README-vars.md row has %d cells, want 3: %s", len(cells), line)
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, readmeRow{name: strings.Trim(cells[0], "`"), def: cells[1], meaning: cells[2]})
	}
	return rows
}

func TestREADMEVarsMatchesConfig(t *testing.T) {
	rows := readmeRows(t)
	var documented []string
	for _, r := range rows {
		if slices.Contains(documented, r.name) {
			t.Errorf("README-vars.md lists %s twice", r.name)
		}
		documented = append(documented, r.name)
	}
	if !slices.Equal(documented, Vars()) {
		for _, name := range Vars() {
			if !slices.Contains(documented, name) {
				t.Errorf("README-vars.md does not list %s", name)
			}
		}
		for _, name := range documented {
			if !slices.Contains(Vars(), name) {
				t.Errorf("README-vars.md lists %s, which no Config field reads", name)
			}
		}
		if !t.Failed() {
			t.Errorf("README-vars.md lists the variables in another order than Config:\n%v\n%v", documented, Vars())
		}
	}

	defaults := map[string]string{}
	for _, f := range fields() {
		defaults[f.name] = f.def
	}
	for _, r := range rows {
		def, ok := defaults[r.name]
		if !ok {
			continue
		}
		t.Run(r.name, func(t *testing.T) {
			if def != "" && r.def != "`"+def+"`" {
				t.Errorf("default column %q, want %q (the envDefault tag)", r.def, "`"+def+"`")
			}
			if def == "" && !strings.HasPrefix(r.def, "empty") && r.def != "(required)" {
				t.Errorf("default column %q: the default is empty, so write \"empty…\" or \"(required)\"", r.def)
			}
			if r.meaning == "" {
				t.Error("meaning column is empty")
			}
		})
	}
}

// TestEveryFieldIsDocumented checks that each Config field has a doc
// comment beginning with its name and stating its default.
func TestEveryFieldIsDocumented(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var st *ast.StructType
	ast.Inspect(file, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.Name == "Config" {
			st, _ = ts.Type.(*ast.StructType)
		}
		return st == nil
	})
	if st == nil {
		t.Fatal("type Config struct not found in config.go")
	}
	if got, want := len(st.Fields.List), reflect.TypeFor[Config]().NumField(); got != want {
		t.Fatalf("parsed %d fields, Config has %d", got, want)
	}
	for _, f := range st.Fields.List {
		name := f.Names[0].Name
		t.Run(name, func(t *testing.T) {
			doc := f.Doc.Text()
			if !strings.HasPrefix(doc, name+" ") {
				t.Errorf("doc comment does not begin with %s: %q", name, doc)
			}
			if !strings.Contains(doc, "Default") && !strings.Contains(doc, "Required") {
				t.Errorf("doc comment states no default: %q", doc)
			}
		})
	}
}
