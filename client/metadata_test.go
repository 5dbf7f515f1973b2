package client_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/parjarm/parjarm/client"
)

// TestEveryRegisteredMetadataNameLoads loads a registry that uses every
// accepted name (and localized forms) with realistic values, and checks the
// file covers them all, so that adding a name without a test fails here.
func TestEveryRegisteredMetadataNameLoads(t *testing.T) {
	data, err := os.ReadFile("testdata/all-metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := client.Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	var docs []map[string]json.RawMessage
	if err := json.Unmarshal(data, &docs); err != nil {
		t.Fatal(err)
	}
	if r.Len() != len(docs) {
		t.Fatalf("Len() = %d, want %d", r.Len(), len(docs))
	}
	used := map[string]bool{}
	for _, d := range docs {
		for name := range d {
			used[name] = true
		}
	}
	for _, name := range append(client.ActedMetadata(), client.KeptMetadata()...) {
		if !used[name] {
			t.Errorf("testdata/all-metadata.json does not use %q", name)
		}
	}
	for _, name := range []string{"client_name#ja-Jpan-JP", "client_uri#fr", "logo_uri#de-CH", "tos_uri#en-GB", "policy_uri#es-419", "organization_name#sv"} {
		if !used[name] {
			t.Errorf("testdata/all-metadata.json does not use the localized %q", name)
		}
	}

	web, ok := r.Lookup("web-app")
	if !ok {
		t.Fatal("web-app not found")
	}
	if v, ok := web.Metadata("client_name#ja-Jpan-JP"); !ok || string(v) != `"ウェブアプリ"` {
		t.Errorf(`Metadata("client_name#ja-Jpan-JP") = %s, %v`, v, ok)
	}
	if v, ok := web.Metadata("contacts"); !ok || string(v) != `["ops@web.example", "security@web.example"]` {
		t.Errorf(`Metadata("contacts") = %s, %v`, v, ok)
	}
	if _, ok := web.Metadata("client_secret"); ok {
		t.Error("an acted-on name is also kept as extra metadata")
	}
	if !slices.Equal(web.GrantTypes, []string{"authorization_code", "implicit", "refresh_token"}) || web.ApplicationType != client.AppWeb {
		t.Errorf("grant_types %v, application_type %q not read", web.GrantTypes, web.ApplicationType)
	}
	if !web.RequirePAR || !web.RequireSignedRequestObject || web.PARLifetime != 90 {
		t.Errorf("acted-on metadata not read: %+v", web)
	}
	if got := len(web.MetadataNames()); got < len(client.KeptMetadata())-1 {
		t.Errorf("web-app keeps %d names, want nearly all of %d", got, len(client.KeptMetadata()))
	}
}

// TestRegistryNamesAreDisjoint: a name is either acted on or kept.
func TestRegistryNamesAreDisjoint(t *testing.T) {
	acted := client.ActedMetadata()
	for _, name := range client.KeptMetadata() {
		if slices.Contains(acted, name) {
			t.Errorf("%q is both acted on and kept", name)
		}
	}
}

func TestParseRefusesTyposWithADidYouMean(t *testing.T) {
	tests := []struct {
		field, want string
	}{
		{"grant_type", "grant_types"},
		{"redirect_uri", "redirect_uris"},
		{"client_nmae", "client_name"},
		{"response_type", "response_types"},
		{"client_secrett", "client_secret"},
		{"post_logout_redirect_uri", "post_logout_redirect_uris"},
		{"Client_Name", "client_name"}, // names are case sensitive (RFC 7591, section 4.1.1)
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			doc := `{"clients": [{"client_id": "bank-app", "client_secret": "s", "redirect_uris": ["https://a/cb"], "` + tt.field + `": "x"}]}`
			_, err := client.Parse([]byte(doc))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			want := `client "bank-app": unknown field "` + tt.field + `"; did you mean "` + tt.want + `"?`
			if err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
}

func TestParseRefusesUnknownNames(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"a far-off name gets no guess", `[{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://a/cb"], "completely_unrelated_thing": 1}]`,
			[]string{`client "a": unknown field "completely_unrelated_thing" (not a registered client metadata name`}},
		{"every unknown name is reported", `[{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://a/cb"], "grant_type": [], "scop": ""}]`,
			[]string{`unknown field "grant_type"; did you mean "grant_types"?`, `unknown field "scop"; did you mean "scope"?`}},
		{"a bad language tag is refused", `[{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://a/cb"], "client_name#": "x"}]`,
			[]string{`unknown field "client_name#"`, "BCP 47"}},
		{"a language tag with a bad subtag is refused", `[{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://a/cb"], "client_name#en-toolongsubtag": "x"}]`,
			[]string{`unknown field "client_name#en-toolongsubtag"`, "BCP 47"}},
		{"only human-readable names are localized", `[{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://a/cb"], "scope#fr": "x"}]`,
			[]string{`unknown field "scope#fr"; did you mean "scope"?`}},
		{"an acted-on name is not localized", `[{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://a/cb"], "redirect_uris#fr": ["https://a/fr"]}]`,
			[]string{`unknown field "redirect_uris#fr"; did you mean "redirect_uris"?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.Parse([]byte(tt.doc))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseTypeChecksKeptMetadata(t *testing.T) {
	tests := []struct {
		member, want string
	}{
		{`"client_name": 5`, `client_name: a JSON number is not allowed here (want a string)`},
		{`"client_name#fr": ["x"]`, `client_name#fr: a JSON array is not allowed here (want a string)`},
		{`"contacts": "ops@a"`, `contacts: a JSON string is not allowed here (want an array of strings)`},
		{`"contacts": [1]`, `contacts: a JSON array is not allowed here (want an array of strings)`},
		{`"require_auth_time": "true"`, `require_auth_time: a JSON string is not allowed here (want true or false)`},
		{`"default_max_age": "3600"`, `default_max_age: a JSON string is not allowed here (want a number)`},
		{`"client_secret_expires_at": {}`, `client_secret_expires_at: a JSON object is not allowed here (want a number)`},
		{`"grant_types": "authorization_code"`, `grant_types: a JSON string is not allowed here (want an array)`},
		{`"application_type": ["web"]`, `application_type: a JSON array is not allowed here (want a string)`},
	}
	for _, tt := range tests {
		t.Run(tt.member, func(t *testing.T) {
			doc := `[{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://a/cb"], ` + tt.member + `}]`
			_, err := client.Parse([]byte(doc))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if want := `client "a": ` + tt.want; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
	// null stands for an absent value.
	if _, err := client.Parse([]byte(`[{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://a/cb"], "client_name": null, "contacts": null}]`)); err != nil {
		t.Errorf("null kept metadata refused: %v", err)
	}
}

func TestParseAcceptsABareArray(t *testing.T) {
	doc := `[{"client_id": "one", "client_secret": "s", "redirect_uris": ["https://a/cb"]},
	        {"client_id": "two", "client_secret": "s", "redirect_uris": ["https://b/cb"], "client_name": "Two"}]`
	r, err := client.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 2 {
		t.Fatalf("Len() = %d, want 2", r.Len())
	}
	two, _ := r.Lookup("two")
	if v, ok := two.Metadata("client_name"); !ok || string(v) != `"Two"` {
		t.Errorf(`Metadata("client_name") = %s, %v`, v, ok)
	}
	if r, err := client.Parse([]byte(` [] `)); err != nil || r.Len() != 0 {
		t.Errorf("an empty array: %v", err)
	}
}

// TestKeptMetadataIsCopied: the registry's clients do not share kept
// metadata with the values they were built from.
func TestKeptMetadataIsCopied(t *testing.T) {
	data := []byte(`[{"client_id": "a", "client_secret": "s", "redirect_uris": ["https://a/cb"], "client_name": "A"}]`)
	r, err := client.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := r.Lookup("a")
	copy(data, strings.Repeat(" ", len(data)))
	if v, _ := a.Metadata("client_name"); string(v) != `"A"` {
		t.Errorf("kept metadata changed with the input: %s", v)
	}
	r2, err := client.NewRegistry(a)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := r2.Lookup("a")
	if v, _ := b.Metadata("client_name"); string(v) != `"A"` {
		t.Errorf("NewRegistry lost kept metadata: %s", v)
	}
}

// TestParseLabelsByTheExactClientID: a client is named by its client_id
// member only, never by a differently cased look-alike.
func TestParseLabelsByTheExactClientID(t *testing.T) {
	_, err := client.Parse([]byte(`[{"Client_ID": "impostor", "client_secret": "s", "redirect_uris": ["https://a/cb"]}]`))
	if err == nil {
		t.Fatal("Parse succeeded, want an error")
	}
	if strings.Contains(err.Error(), "impostor") || !strings.Contains(err.Error(), `client #1: unknown field "Client_ID"; did you mean "client_id"?`) {
		t.Errorf("error %q", err)
	}
}
