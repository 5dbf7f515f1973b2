package flow

import (
	"errors"
	"testing"

	"github.com/parjarm/parjarm/oauth"
)

func TestResolveMode(t *testing.T) {
	tests := []struct {
		name         string
		mode, rtype  string
		encrypted    bool
		want         Mode
		wantRejected bool
	}{
		{"code defaults to query", "", "code", false, Mode{Base: ModeQuery}, false},
		{"none defaults to query", "", "none", false, Mode{Base: ModeQuery}, false},
		{"token defaults to fragment", "", "token", false, Mode{Base: ModeFragment}, false},
		{"hybrid defaults to fragment", "", "code id_token", false, Mode{Base: ModeFragment}, false},
		{"query is refused for tokens", "query", "code id_token", false, Mode{}, true},
		{"query is fine for code", "query", "code", false, Mode{Base: ModeQuery}, false},
		{"form_post is plain", "form_post", "code id_token", false, Mode{Base: ModeFormPost}, false},
		{"jwt is query.jwt for code", "jwt", "code", false, Mode{Base: ModeQuery, JWT: true}, false},
		{"jwt is query.jwt for none", "jwt", "none", false, Mode{Base: ModeQuery, JWT: true}, false},
		{"jwt is fragment.jwt for token", "jwt", "token", false, Mode{Base: ModeFragment, JWT: true}, false},
		{"jwt is fragment.jwt for id_token", "jwt", "id_token", false, Mode{Base: ModeFragment, JWT: true}, false},
		{"jwt is fragment.jwt for code id_token token", "jwt", "code id_token token", false, Mode{Base: ModeFragment, JWT: true}, false},
		{"query.jwt for code", "query.jwt", "code", false, Mode{Base: ModeQuery, JWT: true}, false},
		{"query.jwt with a token type is refused unencrypted (JARM 2.3.1)", "query.jwt", "code token", false, Mode{}, true},
		{"query.jwt with a token type is accepted encrypted", "query.jwt", "code id_token", true, Mode{Base: ModeQuery, JWT: true}, false},
		{"fragment.jwt", "fragment.jwt", "code", false, Mode{Base: ModeFragment, JWT: true}, false},
		{"form_post.jwt", "form_post.jwt", "code id_token", false, Mode{Base: ModeFormPost, JWT: true}, false},
		{"unknown mode is refused", "web_message", "code", false, Mode{}, true},
		{"case matters", "Query.JWT", "code", false, Mode{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveMode(tt.mode, tt.rtype, tt.encrypted)
			if tt.wantRejected {
				if !errors.Is(err, oauth.ErrInvalidRequest) {
					t.Fatalf("err = %v, want invalid_request", err)
				}
				if oauth.From(err).Status != 400 {
					t.Fatalf("status = %d, want 400", oauth.From(err).Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestModeString(t *testing.T) {
	for _, m := range []string{ModeQuery, ModeFragment, ModeFormPost, ModeQueryJWT, ModeFragmentJWT, ModeFormPostJWT} {
		got, err := ResolveMode(m, "code", false)
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != m {
			t.Errorf("ResolveMode(%q).String() = %q", m, got.String())
		}
	}
}

func TestIsJWTMode(t *testing.T) {
	for mode, want := range map[string]bool{"jwt": true, "query.jwt": true, "fragment.jwt": true, "form_post.jwt": true, "query": false, "": false, "form_post": false, "jwt ": false} {
		if got := IsJWTMode(mode); got != want {
			t.Errorf("IsJWTMode(%q) = %v, want %v", mode, got, want)
		}
	}
}
