package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Defaults of FetchOptions.
const (
	DefaultFetchTimeout       = 5 * time.Second
	DefaultFetchMaxBytes      = 64 << 10
	DefaultKeyCacheTTL        = 5 * time.Minute
	DefaultMinRefreshInterval = 10 * time.Second
)

// MaxRedirects is how many redirects one jwks_uri fetch follows.
const MaxRedirects = 3

// FetchOptions configures a KeyFetcher. Zero values take the defaults.
type FetchOptions struct {
	// HTTPClient fetches jwks_uri documents: its Transport, Jar and Timeout
	// are used, never its CheckRedirect. The fetcher works on a copy that
	// follows at most MaxRedirects redirects, each to an https URL that
	// would be accepted as a jwks_uri (see checkRedirect). Default: a
	// client over http.DefaultTransport.
	HTTPClient *http.Client
	// Timeout bounds one fetch, connection to last byte. Default 5 s.
	Timeout time.Duration
	// MaxBytes is the largest jwks_uri document accepted. Default 64 KiB.
	MaxBytes int64
	// CacheTTL is how long a fetched key set is used before it is fetched
	// again. A set whose refresh fails is still served until it is 2×CacheTTL
	// old. Default 5 min.
	CacheTTL time.Duration
	// MinRefreshInterval is the least time between two fetches of one URI
	// forced by Invalidate, and how long a failed fetch is remembered before
	// the URI is tried again. It keeps assertions with made-up kids from
	// turning the gateway into a traffic amplifier against a client's
	// jwks_uri. Default 10 s.
	MinRefreshInterval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// KeyFetcher returns clients' public key sets: the inline jwks, or the
// jwks_uri document, fetched with a timeout and a size limit and cached.
// Concurrent fetches of one URI are collapsed into one. It is safe for
// concurrent use.
type KeyFetcher struct {
	opts FetchOptions

	mu      sync.Mutex
	entries map[string]*keyEntry
}

// keyEntry is the cache state of one jwks_uri.
type keyEntry struct {
	set       *jose.JSONWebKeySet
	fetchedAt time.Time
	stale     bool      // Invalidate asked for a refetch
	failedAt  time.Time // last failed fetch, zero if none since the last success
	lastErr   error
	inflight  *fetchCall
}

// fetchCall is one fetch that several callers wait for.
type fetchCall struct {
	done chan struct{}
	set  *jose.JSONWebKeySet
	err  error
}

// NewKeyFetcher returns a KeyFetcher with opts, defaults filled in.
func NewKeyFetcher(opts FetchOptions) *KeyFetcher {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultFetchTimeout
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultFetchMaxBytes
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultKeyCacheTTL
	}
	if opts.MinRefreshInterval <= 0 {
		opts.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// The redirect policy is the fetcher's own whatever client it is given
	// (a client's redirect policy is not a transport setting): it is set on
	// a copy, the caller's client is left as it was.
	var hc http.Client
	if opts.HTTPClient != nil {
		hc = *opts.HTTPClient
	}
	hc.CheckRedirect = checkRedirect
	opts.HTTPClient = &hc
	return &KeyFetcher{opts: opts, entries: make(map[string]*keyEntry)}
}

// checkRedirect is the redirect policy of every jwks_uri fetch: at most
// MaxRedirects redirects, each to an https URL that checkJWKSURI accepts.
// A redirect never leads to http, not even to a loopback host as a
// registered jwks_uri may: from an https jwks_uri it would let anyone on the
// path supply the keys the gateway trusts (RFC 7515, section 4.1.2 requires
// TLS with a validated server identity for the like "jku" fetch), and it
// would let the host of a jwks_uri send the gateway's GETs to services
// listening on the gateway's own loopback interface.
func checkRedirect(req *http.Request, via []*http.Request) error {
	// via holds the requests made so far: len(via) is this redirect's number.
	if len(via) > MaxRedirects {
		return fmt.Errorf("more than %d redirects", MaxRedirects)
	}
	target := req.URL.Scheme + "://" + req.URL.Host
	if req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to %q refused: a redirect must use https", target)
	}
	if msg := checkJWKSURI(req.URL.String()); msg != "" {
		return fmt.Errorf("redirect to %q refused: the URL %s", target, msg)
	}
	return nil
}

// KeySet returns the public keys of c: its inline jwks, or its jwks_uri
// document (RFC 7591, section 2). Errors never contain the document.
func (f *KeyFetcher) KeySet(ctx context.Context, c *Client) (*jose.JSONWebKeySet, error) {
	if c.JWKS != nil {
		return c.JWKS, nil
	}
	if c.JWKSURI == "" {
		return nil, fmt.Errorf("client %q has neither jwks nor jwks_uri", c.ID)
	}
	return f.fetchCached(ctx, c.JWKSURI)
}

// Invalidate marks the cached set of uri for refetching, so that a verifier
// that met an unknown kid can retry once with fresh keys. It does nothing if
// the set was fetched less than MinRefreshInterval ago. Until the refetch
// succeeds, the old set is still served within 2×CacheTTL of its fetch.
func (f *KeyFetcher) Invalidate(uri string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.entries[uri]
	if e == nil || e.set == nil {
		return
	}
	if f.opts.Now().Sub(e.fetchedAt) >= f.opts.MinRefreshInterval {
		e.stale = true
	}
}

func (f *KeyFetcher) fetchCached(ctx context.Context, uri string) (*jose.JSONWebKeySet, error) {
	f.mu.Lock()
	now := f.opts.Now()
	e := f.entries[uri]
	if e == nil {
		e = &keyEntry{}
		f.entries[uri] = e
	}
	if e.set != nil && !e.stale && now.Sub(e.fetchedAt) < f.opts.CacheTTL {
		set := e.set
		f.mu.Unlock()
		return set, nil
	}
	if !e.failedAt.IsZero() && now.Sub(e.failedAt) < f.opts.MinRefreshInterval {
		// A fetch failed a moment ago: do not hammer the URI.
		set, err := f.fallbackLocked(e, now)
		f.mu.Unlock()
		return set, err
	}
	call := e.inflight
	if call == nil {
		call = &fetchCall{done: make(chan struct{})}
		e.inflight = call
		// The fetch is shared by every waiter, so one caller's cancellation
		// must not fail the others: it runs on its own timeout.
		go f.run(context.WithoutCancel(ctx), uri, e, call)
	}
	f.mu.Unlock()

	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("jwks_uri %q: %w", uri, ctx.Err())
	}
	if call.err == nil {
		return call.set, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fallbackLocked(e, f.opts.Now())
}

// fallbackLocked returns the cached set if it is younger than 2×CacheTTL,
// else the last fetch error. f.mu is held.
func (f *KeyFetcher) fallbackLocked(e *keyEntry, now time.Time) (*jose.JSONWebKeySet, error) {
	if e.set != nil && now.Sub(e.fetchedAt) < 2*f.opts.CacheTTL {
		return e.set, nil
	}
	return nil, e.lastErr
}

// run performs one shared fetch and records its outcome.
func (f *KeyFetcher) run(ctx context.Context, uri string, e *keyEntry, call *fetchCall) {
	set, err := f.fetch(ctx, uri)
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.opts.Now()
	if err == nil {
		e.set, e.fetchedAt, e.stale = set, now, false
		e.failedAt, e.lastErr = time.Time{}, nil
	} else {
		e.failedAt, e.lastErr = now, err
	}
	e.inflight = nil
	call.set, call.err = set, err
	close(call.done)
}

// fetch GETs uri and parses it as a JWK set of public keys.
func (f *KeyFetcher) fetch(ctx context.Context, uri string) (*jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks_uri %q: %w", uri, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := f.opts.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is already in our message
		}
		return nil, fmt.Errorf("jwks_uri %q: %w", uri, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, f.opts.MaxBytes))
		return nil, fmt.Errorf("jwks_uri %q: status %d", uri, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.opts.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks_uri %q: reading the response: %w", uri, err)
	}
	if int64(len(body)) > f.opts.MaxBytes {
		return nil, fmt.Errorf("jwks_uri %q: response larger than %d bytes", uri, f.opts.MaxBytes)
	}
	// The parser's message could quote the document: it is not passed on.
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("jwks_uri %q: response is not a JWK set (RFC 7517, section 5)", uri)
	}
	for i := range set.Keys {
		if !set.Keys[i].IsPublic() {
			return nil, fmt.Errorf("jwks_uri %q: the set holds a private or symmetric key; refusing it", uri)
		}
	}
	return &set, nil
}

// Interface guards.
var (
	_ KeySource   = (*KeyFetcher)(nil)
	_ invalidator = (*KeyFetcher)(nil)
)
