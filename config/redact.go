package config

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"time"
)

// redacted replaces a secret in Redacted's output.
const redacted = "REDACTED"

// Redacted returns every variable with its effective value, for the
// start-up log line. Secrets never appear: PARJARM_REDIS_PASSWORD and
// PARJARM_REDIS_SENTINEL_PASSWORD read "REDACTED" when set, and the password
// inside a URL (PARJARM_REDIS_URL) is masked. Lists are comma-separated,
// durations printed as Go durations, unset values empty.
func (c *Config) Redacted() map[string]string { return c.vars(true) }

// vars prints every field as the value of its variable; Load(c.vars(false))
// rebuilds c. With redact, secrets are hidden.
func (c *Config) vars(redact bool) map[string]string {
	v := reflect.ValueOf(c).Elem()
	out := make(map[string]string, len(fields()))
	for _, f := range fields() {
		s := format(v.FieldByName(f.goName), redact)
		if redact && f.redact && s != "" && f.kind == reflect.String {
			s = redacted
		}
		out[f.name] = s
	}
	return out
}

// format prints one field value the way its variable is written; with
// redact, a URL's password is masked.
func format(v reflect.Value, redact bool) string {
	switch x := v.Interface().(type) {
	case *url.URL:
		switch {
		case x == nil:
			return ""
		case redact:
			return x.Redacted()
		default:
			return x.String()
		}
	case time.Duration:
		return fmtDur(x, false)
	}
	if v.Kind() == reflect.Slice {
		items := make([]string, v.Len())
		for i := range items {
			items[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(items, ",")
	}
	return fmt.Sprint(v.Interface())
}
