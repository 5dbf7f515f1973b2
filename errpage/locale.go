package errpage

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Message is what a page says about one kind of failure.
type Message struct {
	// Title is the page's heading and <title>.
	Title string `json:"title"`
	// Text tells the person what happened and what to do.
	Text string `json:"message"`
}

// Labels are the page's fixed texts.
type Labels struct {
	// Reference labels the request reference ("Reference").
	Reference string `json:"reference"`
	// ReferenceHint says what the reference is for.
	ReferenceHint string `json:"reference_hint"`
	// Details labels the technical details (error, error_description).
	Details string `json:"details"`
}

// Locale is the texts of one language. Its file (<tag>.json, e.g.
// pt-BR.json) has the members "dir" (optional: "ltr" or "rtl"), "labels"
// and "kinds" (one {"title", "message"} per kind).
type Locale struct {
	// Tag is the language tag, from the file name (e.g. "pt-BR").
	Tag string `json:"-"`
	// Dir is the writing direction, "ltr" (default) or "rtl".
	Dir    string           `json:"dir,omitempty"`
	Labels Labels           `json:"labels"`
	Kinds  map[Kind]Message `json:"kinds"`
}

// DefaultLanguage is the language of a page when the person accepts none
// of the others.
const DefaultLanguage = "en"

//go:embed locales/*.json
var bundledFiles embed.FS

// maxLocaleBytes bounds one locale file.
const maxLocaleBytes = 1 << 20

// bundled returns the locales shipped with the gateway, by tag. They are
// complete (TestBundledLocalesAreComplete).
func bundled() (map[string]*Locale, error) {
	entries, err := bundledFiles.ReadDir("locales")
	if err != nil {
		return nil, err
	}
	out := map[string]*Locale{}
	for _, e := range entries {
		b, err := bundledFiles.ReadFile("locales/" + e.Name())
		if err != nil {
			return nil, err
		}
		l, err := parseLocale(e.Name(), b)
		if err != nil {
			return nil, err
		}
		out[l.Tag] = l
	}
	return out, nil
}

// parseLocale reads one locale file; name is its file name (<tag>.json).
// Unknown members and kinds are errors, so a misspelt key is noticed.
func parseLocale(name string, b []byte) (*Locale, error) {
	tag, ok := strings.CutSuffix(name, ".json")
	if !ok || tag == "*" || !validLanguageRange(tag) {
		return nil, fmt.Errorf("%s: the file name must be a language tag and .json (e.g. de.json, pt-BR.json)", name)
	}
	l := &Locale{Tag: tag}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(l); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: data after the JSON object", name)
	}
	if l.Dir != "" && l.Dir != "ltr" && l.Dir != "rtl" {
		return nil, fmt.Errorf("%s: dir must be \"ltr\" or \"rtl\", not %q", name, l.Dir)
	}
	for k := range l.Kinds {
		if !slices.Contains(Kinds, k) {
			return nil, fmt.Errorf("%s: unknown kind %q (kinds: %s)", name, k, kindList())
		}
	}
	return l, nil
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// loadLocales reads the operator's locale files (every *.json in dir; other
// files are ignored) over the bundled ones: a text the operator's file
// leaves out is the bundled text of that language, or else English's.
func loadLocales(dir string) (map[string]*Locale, error) {
	locales, err := bundled()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return locales, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := readBounded(path, maxLocaleBytes)
		if err != nil {
			return nil, err
		}
		l, err := parseLocale(e.Name(), b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		// The same tag in another case replaces the bundled one.
		base := locales[DefaultLanguage]
		for t, b := range locales {
			if strings.EqualFold(t, l.Tag) {
				base = b
				delete(locales, t)
			}
		}
		locales[l.Tag] = merge(base, l)
	}
	return locales, nil
}

// merge returns over with every empty text taken from base.
func merge(base, over *Locale) *Locale {
	out := &Locale{Tag: over.Tag, Dir: over.Dir, Labels: over.Labels, Kinds: map[Kind]Message{}}
	if out.Dir == "" {
		out.Dir = base.Dir
	}
	pick := func(s, fallback string) string {
		if strings.TrimSpace(s) == "" {
			return fallback
		}
		return s
	}
	out.Labels.Reference = pick(out.Labels.Reference, base.Labels.Reference)
	out.Labels.ReferenceHint = pick(out.Labels.ReferenceHint, base.Labels.ReferenceHint)
	out.Labels.Details = pick(out.Labels.Details, base.Labels.Details)
	for _, k := range Kinds {
		m, b := over.Kinds[k], base.Kinds[k]
		out.Kinds[k] = Message{Title: pick(m.Title, b.Title), Text: pick(m.Text, b.Text)}
	}
	return out
}

// readBounded reads at most limit bytes of path, and fails on a larger file.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}
