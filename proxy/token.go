package proxy

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/parjarm/parjarm/codebind"
	"github.com/parjarm/parjarm/flow"
	"github.com/parjarm/parjarm/oauth"
)

// token intercepts the upstream's token endpoint (DESIGN: the token
// endpoint): an authorization code redemption is checked against the
// record of the code the gateway delivered (client, redirect_uri, PKCE;
// RFC 6749, section 4.1.3; RFC 7636, section 4.6) and forwarded unchanged
// only if it passes; every other token request passes untouched. Client
// authentication stays the upstream's.
func (g *Gateway) token(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
	case http.MethodOptions:
		// A CORS preflight carries no grant: it goes on without a body or a
		// query an upstream could read one from.
		out := withBody(r, "")
		u := *r.URL
		u.RawQuery = ""
		out.URL = &u
		g.rp.ServeHTTP(w, out)
		return
	default:
		// RFC 6749, section 3.2: the client MUST use POST; an upstream that
		// also reads a GET's query would redeem a code unchecked.
		w.Header().Set("Allow", "POST, OPTIONS")
		g.writeTokenError(w, r, oauth.ErrMethodNotAllowed)
		return
	}
	// One Content-Type, one Authorization, no content coding: the upstream
	// must read the very body and client the gateway read (an upstream that
	// takes the last Content-Type, or decompresses, would read another).
	if len(r.Header.Values("Authorization")) > 1 {
		g.writeTokenError(w, r, oauth.ErrInvalidRequest.WithDescription("one Authorization header at most"))
		return
	}
	if ce := r.Header.Values("Content-Encoding"); len(ce) > 1 || (len(ce) == 1 && !strings.EqualFold(strings.TrimSpace(ce[0]), "identity")) {
		g.writeTokenError(w, r, oauth.ErrInvalidRequest.WithDescription("token requests must not be content-encoded"))
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" || len(r.Header.Values("Content-Type")) != 1 {
		// RFC 6749, section 4.1.3: the body is form-encoded; one the
		// gateway cannot read could carry a code the upstream reads.
		g.writeTokenError(w, r, oauth.ErrInvalidRequest.WithDescription("token requests are POSTed as application/x-www-form-urlencoded"))
		return
	}
	body, err := readBody(r, g.opts.MaxFormBytes)
	if err != nil {
		g.writeTokenError(w, r, err)
		return
	}
	tr, err := codebind.ParseTokenRequest(r.URL.RawQuery, body, r.Header.Get("Authorization"), g.opts.MaxParams)
	if err != nil {
		g.writeTokenError(w, r, err)
		return
	}
	if tr.RedeemsCode() {
		if err := g.opts.Codes.Redeem(r.Context(), tr); err != nil {
			if codebind.Replayed(err) {
				// RFC 6749, section 4.1.2: on a replayed code the server
				// SHOULD revoke the tokens issued for it, which only the
				// upstream can do. It sees the replay, and its answer, even
				// tokens from an upstream that does not refuse replays, is
				// discarded: the client gets the gateway's invalid_grant.
				g.rp.ServeHTTP(discard{}, withBody(r, body))
			}
			g.writeTokenError(w, r, storeError(err))
			return
		}
	}
	g.rp.ServeHTTP(w, withBody(r, body))
}

// withBody returns r carrying body, the bytes read from it, unchanged and
// with a known length.
func withBody(r *http.Request, body string) *http.Request {
	out := r.Clone(r.Context())
	out.Body = io.NopCloser(strings.NewReader(body))
	out.ContentLength = int64(len(body))
	out.TransferEncoding = nil
	out.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return out
}

// discard is a ResponseWriter that drops the response.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// readBody reads r's body, at most limit bytes: a larger one is
// oauth.ErrRequestTooLarge (413).
func readBody(r *http.Request, limit int64) (string, error) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", oauth.ErrRequestTooLarge
		}
		return "", oauth.ErrInvalidRequest.WithDescription("cannot read the request body").WithCause(err)
	}
	return string(b), nil
}

// writeTokenError answers err in token-endpoint format (RFC 6749, section
// 5.2; JSON, Cache-Control: no-store), counts and logs it.
func (g *Gateway) writeTokenError(w http.ResponseWriter, r *http.Request, err error) {
	oe, ref := g.refused(r, err, "token request refused")
	w.Header().Set("X-Request-Id", ref)
	oauth.WriteJSON(w, oe)
}

// recordCode records the code of a tracked flow's authorization response
// before it is delivered (DESIGN: the token endpoint is fed by flow), so
// that its redemption can be checked. A code that cannot be recorded is not
// delivered.
func (g *Gateway) recordCode(ctx context.Context, tx *flow.Transaction, params url.Values) error {
	code := params.Get("code")
	if g.opts.Codes == nil || code == "" {
		return nil
	}
	err := g.opts.Codes.Record(ctx, code, codebind.Record{
		ClientID:            tx.ClientID,
		RedirectURI:         tx.RedirectURI,
		CodeChallenge:       tx.CodeChallenge,
		CodeChallengeMethod: tx.CodeChallengeMethod,
	})
	if err != nil {
		g.m.InterceptFailures.WithLabelValues("store").Inc()
		return storeError(err)
	}
	return nil
}
