package par

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/parjarm/parjarm/authreq"
	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/internal/record"
	"github.com/parjarm/parjarm/oauth"
	"github.com/parjarm/parjarm/profile"
	"github.com/parjarm/parjarm/store"
	"github.com/parjarm/parjarm/tracing"
)

// PushedRequest is what the store holds for a request_uri, under
// RequestURIKey(requestURI), in its binary form (marshal). The JSON tags
// read what the version before stored.
type PushedRequest struct {
	// ClientID is the client that pushed the request; only it may use the
	// request_uri (RFC 9126, section 2.2).
	ClientID string `json:"client_id"`
	// Params are the authorization parameters, after JAR if any.
	Params url.Values `json:"params"`
	// Signed tells whether the parameters came from a verified request
	// object, so that expansion can re-check a signed-request policy.
	Signed bool `json:"signed,omitempty"`
	// ExpiresAt is when the request_uri stops being accepted for expansion.
	ExpiresAt time.Time `json:"expires_at"`
}

// pushedRequestFormat is the first byte of a PushedRequest's binary form,
// its fields in the order marshal appends them. A JSON value, from the
// version before, starts with '{'.
const pushedRequestFormat = 0x02

// marshal returns r's binary form.
func (r *PushedRequest) marshal() []byte {
	b := make([]byte, 0, 1+record.StringsLen(r.ClientID)+record.ValuesLen(r.Params)+1+binary.MaxVarintLen64)
	b = append(b, pushedRequestFormat)
	b = record.AppendString(b, r.ClientID)
	b = record.AppendValues(b, r.Params)
	b = record.AppendBool(b, r.Signed)
	return record.AppendTime(b, r.ExpiresAt)
}

// unmarshal decodes b, in the binary form or in the JSON of the version
// before, so that requests pushed before an upgrade still expand.
func (r *PushedRequest) unmarshal(b []byte) error {
	if record.IsJSON(b) {
		// A variable of this path's own: json.Unmarshal makes it escape to
		// the heap, and the caller's r need not.
		var old PushedRequest
		if err := json.Unmarshal(b, &old); err != nil {
			return err
		}
		*r = old
		return nil
	}
	d := record.NewDecoder(b, pushedRequestFormat)
	rec := PushedRequest{ClientID: d.ReadString(), Params: d.ReadValues(), Signed: d.ReadBool(), ExpiresAt: d.ReadTime()}
	if err := d.Finish(); err != nil {
		return err
	}
	*r = rec
	return nil
}

// pushResponse is the push endpoint's answer (RFC 9126, section 2.2).
type pushResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int64  `json:"expires_in"`
}

// Client authentication parameters: never authorization parameters
// (RFC 6749, section 2.3.1; RFC 7523, section 2.2).
var clientAuthParams = []string{"client_secret", "client_assertion", "client_assertion_type"}

// ServeHTTP is the push endpoint (RFC 9126, section 2). Errors are answered
// in token-endpoint format (RFC 9126, section 2.3).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.opts.TracerProvider != nil {
		ctx, span := s.opts.TracerProvider.Tracer(tracing.Scope).Start(r.Context(), "par.push.process")
		defer span.End()
		r = r.WithContext(ctx)
	}
	clientID, resp, err := s.push(w, r)
	if s.opts.TracerProvider != nil {
		// The client_id is not a secret; the span gets no other parameter
		// of the push.
		outcome := "created"
		if err != nil {
			outcome = oauth.From(err).Code
		}
		trace.SpanFromContext(r.Context()).SetAttributes(tracing.AttrClientID.String(clientID), tracing.AttrOutcome.String(outcome))
	}
	if err != nil {
		s.fail(w, r, clientID, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(resp)
	s.countPush("created")
	s.log.Info("pushed authorization request", zap.String("client_id", clientID), zap.String("outcome", "created"), zap.Int64("expires_in", resp.ExpiresIn))
}

// push runs one push and returns the client_id it concerns (as
// authenticated, or as claimed when authentication failed) for the log.
func (s *Service) push(w http.ResponseWriter, r *http.Request) (string, *pushResponse, error) {
	if r.Method != http.MethodPost {
		return "", nil, oauth.ErrMethodNotAllowed
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return "", nil, err
	}
	if r.ContentLength > s.opts.MaxBodyBytes {
		return "", nil, oauth.ErrRequestTooLarge
	}
	// The body only: the URL's query string is not part of the push.
	form, err := readForm(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes), s.opts.MaxParams)
	if err != nil {
		return "", nil, err
	}
	claimed := authreq.Truncate(form.Get(paramClientID))
	// RFC 9126, section 2.1.
	if form.Has(paramRequestURI) {
		return claimed, nil, oauth.ErrInvalidRequest.WithDescription("request_uri is not allowed in a pushed authorization request")
	}
	ctx := r.Context()
	// The assertion's replay mark, if any, is written with the request, in
	// one round trip (save).
	c, method, mark, err := s.auth.AuthenticateDeferringReplay(ctx, r.Header.Get("Authorization"), form)
	if err != nil {
		return claimed, nil, authError(err)
	}
	if s.opts.TracerProvider != nil {
		trace.SpanFromContext(ctx).SetAttributes(tracing.AttrAuthMethod.String(string(method)))
	}
	if id := form.Get(paramClientID); id != "" && id != c.ID {
		return c.ID, nil, oauth.ErrInvalidRequest.WithDescription("client_id does not match the authenticated client")
	}
	params, ro, err := s.authorizationParams(ctx, form, c)
	if err != nil {
		return c.ID, nil, err
	}
	if err := profile.CheckPush(s.profile(c), ro.push(s.Now())); err != nil {
		return c.ID, nil, err
	}
	if err := s.Validate(params, c); err != nil {
		return c.ID, nil, err
	}
	if ro != nil && ro.jti != "" {
		if err := s.markRequestJTI(ctx, c, ro); err != nil {
			return c.ID, nil, err
		}
	}
	resp, err := s.save(ctx, c, params, ro != nil, mark)
	return c.ID, resp, err
}

// authorizationParams returns the authorization parameters of a push: the
// request object's claims when there is one (RFC 9126, section 3: only they
// count), or the form without client authentication parameters.
func (s *Service) authorizationParams(ctx context.Context, form url.Values, c *client.Client) (url.Values, *requestObject, error) {
	raw := form.Get(paramRequest)
	if raw == "" {
		// RFC 9126, section 2.3; RFC 9101, section 10.5.
		if s.opts.RequireSignedRequestObject || c.RequireSignedRequestObject {
			return nil, nil, oauth.ErrInvalidRequest.WithDescription("a signed request object is required")
		}
		params := make(url.Values, len(form))
		for name, vs := range form {
			if !slices.Contains(clientAuthParams, name) {
				params[name] = vs
			}
		}
		return params, nil, nil
	}
	ro, err := s.verifyRequestObject(ctx, raw, c)
	if err != nil {
		return nil, nil, err
	}
	return ro.params, ro, nil
}

// markRequestJTI records a request object's jti until it expires, so that
// the same request object cannot be pushed twice (RFC 9101, section 10.3).
func (s *Service) markRequestJTI(ctx context.Context, c *client.Client, ro *requestObject) error {
	ttl := max(ro.exp.Sub(s.Now())+s.opts.ClockSkew, time.Second)
	key := store.Key(store.NSRequestJTI, strconv.Itoa(len(c.ID))+":"+c.ID+":"+ro.jti)
	fresh, err := s.store.PutIfAbsent(ctx, key, []byte{1}, ttl)
	if err != nil {
		return storeError(err)
	}
	if !fresh {
		return oauth.ErrInvalidRequestObject.WithDescription("request object was already used (jti)")
	}
	return nil
}

// save stores the pushed request under a fresh request_uri; the write is
// confirmed before the client is answered. With mark, the replay mark of a
// private_key_jwt assertion, the request is stored only if the mark is
// fresh, in the same atomic step (store.PutIfAbsentThen; RFC 7523, section
// 3, item 7): a replayed assertion stores nothing and is invalid_client.
// The request_uri then carries the mark's hash tag, so that on Redis
// Cluster both keys are in one slot.
func (s *Service) save(ctx context.Context, c *client.Client, params url.Values, signed bool, mark *store.Entry) (*pushResponse, error) {
	lifetime := s.lifetime(c)
	tag := ""
	if mark != nil {
		tag = store.TagOf(mark.Key)
	}
	requestURI := newRequestURI(tag)
	rec := (&PushedRequest{
		ClientID:  c.ID,
		Params:    params,
		Signed:    signed,
		ExpiresAt: s.Now().Add(lifetime),
	}).marshal()
	// The entry outlives expires_in by the completion window, so that a flow
	// expanded in time can be consumed when it completes (RFC 9126, section 4).
	// The request is sealed with a key derived from the request_uri, which
	// the store never sees (issue 10: encryption at rest).
	sealed := store.Seal(store.NSRequestURI, requestURI, rec)
	entry := store.Entry{Key: RequestURIKey(requestURI), Value: sealed, TTL: lifetime + s.opts.CompletionWindow}
	if mark == nil {
		if err := s.store.Put(ctx, entry.Key, entry.Value, entry.TTL); err != nil {
			return nil, storeError(err)
		}
	} else {
		fresh, err := s.store.PutIfAbsentThen(ctx, *mark, []store.Entry{entry})
		if err != nil {
			return nil, oauth.ErrTemporarilyUnavailable.WithDescription("client assertion replay check unavailable, try again later").WithCause(err)
		}
		if !fresh {
			return nil, client.ErrAssertionReplayed
		}
	}
	return &pushResponse{RequestURI: requestURI, ExpiresIn: int64(lifetime / time.Second)}, nil
}

// requestURITagLen is the length of the hash tag a request_uri carries
// after RequestURIPrefix: 8 bytes, base64url-encoded.
const requestURITagLen = 11

// RequestURIKey is the store key of a pushed request. Its hash tag is the
// one the request_uri carries (newRequestURI); it is also the tag of every
// key of the flows expanded from it (flow.Tracker.Open), so that Redis
// Cluster keeps them in one slot and the completion takes them in one
// script. A value without a tag gets an untagged key, which no push wrote.
func RequestURIKey(requestURI string) string {
	rest := strings.TrimPrefix(requestURI, RequestURIPrefix)
	tag := ""
	if len(rest) == requestURITagLen+43 && !strings.ContainsAny(rest[:requestURITagLen], "{} \n") {
		tag = "{" + rest[:requestURITagLen] + "}"
	}
	return store.KeyIn(tag, store.NSRequestURI, requestURI)
}

// newRequestURI returns RequestURIPrefix, a hash tag of 64 bits and 256
// bits from the CSPRNG, base64url-encoded (RFC 9126, sections 2.2 and 7.1:
// the 256 random bits alone make it unguessable). The tag is tag's content
// (the private_key_jwt replay mark's tag, an HMAC keyed with the client and
// the assertion's jti, see client.JTIKey), or random: it reveals nothing.
func newRequestURI(tag string) string {
	if len(tag) == store.TagLen {
		tag = tag[1 : store.TagLen-1]
	} else {
		tag = base64.RawURLEncoding.EncodeToString(randomBytes(8))
	}
	return RequestURIPrefix + tag + base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

// randomBytes returns n bytes from crypto/rand, which never fails.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// fail answers a push error, counts and logs it.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, clientID string, err error) {
	e := oauth.From(err)
	switch e.Status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodPost)
	case http.StatusUnauthorized:
		// RFC 6749, section 5.2: the scheme the client tried.
		if client.UsedBasic(r.Header.Get("Authorization")) {
			w.Header().Set("WWW-Authenticate", `Basic realm="parjarm"`)
		}
	}
	oauth.WriteJSON(w, e)
	s.countPush(e.Code)
	fields := []zap.Field{zap.String("client_id", clientID), zap.String("outcome", e.Code), zap.Int("status", e.Status), zap.String("description", e.Description)}
	if e.Status >= http.StatusInternalServerError {
		// Causes of 5xx are store and server failures, never request content.
		s.log.Warn("pushed authorization request failed", append(fields, zap.NamedError("cause", errors.Unwrap(e)))...)
		return
	}
	s.log.Info("pushed authorization request refused", fields...)
}

// authError maps an authentication failure: an OAuth error as it is, a
// store outage (jti replay check) to temporarily_unavailable.
func authError(err error) error {
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return oe
	}
	if errors.Is(err, store.ErrUnavailable) {
		return oauth.ErrTemporarilyUnavailable.WithCause(err)
	}
	return oauth.ErrServerError.WithCause(err)
}

// storeError maps a store failure to temporarily_unavailable: the store is
// unreachable or full, and the client may retry.
func storeError(err error) error {
	return oauth.ErrTemporarilyUnavailable.WithDescription("the service is temporarily unavailable").WithCause(err)
}

func (s *Service) countPush(outcome string) {
	if s.m != nil {
		s.m.Pushes.WithLabelValues(outcome).Inc()
	}
}

// push returns what the profile rules read of a push's request object; ro
// is nil for a push without one.
func (ro *requestObject) push(now time.Time) profile.Push {
	if ro == nil {
		return profile.Push{Now: now}
	}
	return profile.Push{Signed: true, Alg: string(ro.alg), NBF: ro.nbf, Exp: ro.exp, Now: now}
}
