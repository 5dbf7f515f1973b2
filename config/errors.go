package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/parjarm/parjarm/internal/suggest"
)

// VarError is one problem with one variable. Load and Validate return a
// join of them; find them with errors.As, or list them by unwrapping the
// joined error.
type VarError struct {
	// Var is the full variable name, e.g. "PARJARM_PAR_LIFETIME".
	Var string
	// Msg says what is wrong and how to fix it. It never contains a
	// password.
	Msg string
}

// Error returns "VAR: message".
func (e *VarError) Error() string { return e.Var + ": " + e.Msg }

// field describes one Config field and its variable.
type field struct {
	name   string // full variable name, with Prefix
	goName string // Go field name
	def    string // envDefault
	typ    reflect.Type
	kind   reflect.Kind
	redact bool // a secret: never logged, never echoed in errors
}

// fields lists the Config fields in declaration order.
var fields = sync.OnceValue(func() []field {
	t := reflect.TypeFor[Config]()
	out := make([]field, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("env"), ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, field{
			name:   Prefix + name,
			goName: sf.Name,
			def:    sf.Tag.Get("envDefault"),
			typ:    sf.Type,
			kind:   sf.Type.Kind(),
			redact: sf.Tag.Get("redact") == "true",
		})
	}
	return out
})

// Vars returns the names of every variable Load reads, in declaration order.
func Vars() []string {
	fs := fields()
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return names
}

// UnknownVars returns, sorted, the PARJARM_ variables of environ that no
// Config field reads. Load reports each as an error.
func UnknownVars(environ map[string]string) []string {
	known := Vars()
	var unknown []string
	for k := range environ {
		if strings.HasPrefix(k, Prefix) && !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	return unknown
}

// unknownVarError explains an unknown variable, suggesting the closest
// known name.
func unknownVarError(name string) *VarError {
	msg := "unknown variable (parjarm reads no such setting)"
	best := suggest.Closest(name, Vars(), 3) // suggest only names within 3 edits
	if best != "" {
		return &VarError{Var: name, Msg: msg + "; did you mean " + best + "?"}
	}
	return &VarError{Var: name, Msg: msg + "; remove it, or see config/README-vars.md for the variables"}
}

// parseErrors turns the env parser's error into one *VarError per
// variable. environ supplies the offending values, which are quoted unless
// the variable is a secret or a URL (which may carry a password).
func parseErrors(err error, environ map[string]string) []*VarError {
	var out []*VarError
	for _, e := range unjoin(err) {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			out = append(out, &VarError{Var: Prefix + "*", Msg: e.Error()})
			continue
		}
		i := slices.IndexFunc(fields(), func(f field) bool { return f.goName == pe.Name })
		if i < 0 {
			out = append(out, &VarError{Var: Prefix + "*", Msg: e.Error()})
			continue
		}
		f := fields()[i]
		out = append(out, &VarError{Var: f.name, Msg: parseMessage(f, environ[f.name], pe.Err)})
	}
	return out
}

// parseMessage explains why value does not parse as f's type, and the fix.
func parseMessage(f field, value string, cause error) string {
	q := fmt.Sprintf("%q", value)
	if f.redact {
		q = "the value"
	}
	switch f.typ {
	case reflect.TypeFor[time.Duration]():
		return q + " is not a duration; use a Go duration with a unit, such as 30s, 5m or 1h"
	case reflect.TypeFor[bool]():
		return q + " is not a boolean; use true or false"
	case reflect.TypeFor[int](), reflect.TypeFor[int64]():
		return q + " is not a whole number; use digits only, such as " + f.def
	case reflect.TypeFor[*url.URL]():
		return fmt.Sprintf("not a valid URL (%v); use an absolute URL such as https://host.example/path", cause)
	case reflect.TypeFor[[]netip.Prefix]():
		return fmt.Sprintf("%v; use comma-separated CIDRs such as 10.0.0.0/8,192.168.0.0/16 (a single address is 10.0.0.1/32)", cause)
	default:
		return fmt.Sprintf("%s cannot be parsed: %v", q, cause)
	}
}
