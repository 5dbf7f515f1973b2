package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxDocumentBytes bounds the upstream discovery document and key set.
const maxDocumentBytes = 1 << 20

// Metadata is what the gateway needs to know of the upstream: read once from
// its discovery document at start-up.
type Metadata struct {
	// Issuer is the upstream's `issuer`.
	Issuer string
	// AuthorizationEndpoint is the upstream's public authorization endpoint.
	AuthorizationEndpoint string
	// TokenEndpoint is the upstream's token endpoint as its document names
	// it: on the upstream's own address when the public Host is not
	// preserved (PublicEndpoint maps it to the URL clients are told).
	TokenEndpoint string
	// JWKSURI is the upstream's public key set URL.
	JWKSURI string
	// ResponseTypes is the upstream's `response_types_supported`.
	ResponseTypes []string
	// CodeChallengeMethods is the upstream's
	// `code_challenge_methods_supported` (RFC 8414, section 2): none means
	// it does not support PKCE.
	CodeChallengeMethods []string
}

// Discovery fetches the upstream's discovery document and key set through
// the upstream's own address, and caches them briefly.
type Discovery struct {
	upstream *url.URL
	path     string
	client   *http.Client
	ttl      time.Duration
	now      func() time.Time

	mu     sync.Mutex
	public *url.URL
	doc    map[string]any
	docAt  time.Time
	keys   *RawKeySet
	keysAt time.Time
}

// NewDiscovery returns a Discovery that reads the document at path (e.g.
// "/.well-known/openid-configuration") from upstream, with c, caching for
// ttl.
func NewDiscovery(upstream *url.URL, path string, c *http.Client, ttl time.Duration) *Discovery {
	return &Discovery{upstream: upstream, path: path, client: c, ttl: ttl, now: time.Now}
}

// upstreamURL maps a public URL (or a path) to the same path on the
// upstream's own address: the upstream's documents name public URLs, which
// point at the gateway itself.
func (d *Discovery) upstreamURL(public string) (string, error) {
	p, err := url.Parse(public)
	if err != nil {
		return "", err
	}
	u := *d.upstream
	u.Path = joinPath(d.upstream.Path, p.Path)
	u.RawPath = ""
	u.RawQuery = p.RawQuery
	return u.String(), nil
}

// PublicEndpoint maps s, a URL the upstream names on its own address
// (PARJARM_UPSTREAM_URL, as an upstream that builds URLs from the Host it
// sees does when the gateway does not preserve the public Host), to the URL
// clients use for it through the gateway at publicURL; any other string is
// returned unchanged. It is the inverse of forwarding: a request's path is
// appended to the upstream URL's path, so what follows the upstream URL is
// the public path, on the public URL's scheme and host. An upstream URL
// whose path is the public URL's path names where the issuer lives, and its
// paths are the public ones (UpstreamBase). It is the one rewriting for
// what discovery publishes (RewriteDiscovery), for the authorization
// endpoint's path the gateway intercepts and for what it accepts as an
// endpoint (the private_key_jwt audience): an advertised URL and a served or
// accepted one cannot differ.
func PublicEndpoint(upstream *url.URL, publicURL, s string) string {
	if upstream == nil {
		return s
	}
	origin := strings.TrimSuffix(upstream.String(), "/")
	pub, err := url.Parse(publicURL)
	if origin == "" || err != nil || pub.Host == "" || (s != origin && !strings.HasPrefix(s, origin+"/")) {
		return s
	}
	rest := strings.TrimPrefix(s, origin)
	if UpstreamBase(upstream, publicURL) != upstream {
		rest = strings.TrimSuffix(upstream.EscapedPath(), "/") + rest
	}
	return pub.Scheme + "://" + pub.Host + rest
}

func joinPath(base, p string) string {
	if base == "" || base == "/" {
		return p
	}
	if len(base) > 0 && base[len(base)-1] == '/' {
		base = base[:len(base)-1]
	}
	return base + p
}

func (d *Discovery) get(ctx context.Context, public string, v any) error {
	target, err := d.upstreamURL(public)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	d.mu.Lock()
	pub := d.public
	d.mu.Unlock()
	if pub != nil {
		// As the proxy does for browser traffic: the upstream builds its
		// endpoint URLs from the public host, not from its own address.
		req.Host = pub.Host
		req.Header.Set("X-Forwarded-Host", pub.Host)
		req.Header.Set("X-Forwarded-Proto", pub.Scheme)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: status %d", target, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("fetch %s: %w", target, err)
	}
	if len(body) > maxDocumentBytes {
		return fmt.Errorf("fetch %s: document larger than %d bytes", target, maxDocumentBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("fetch %s: %w", target, err)
	}
	return nil
}

// SetPublic makes every later fetch carry the gateway's public host (Host,
// X-Forwarded-Host, X-Forwarded-Proto), so that an upstream that builds
// URLs from the request names public URLs, and drops the cache.
func (d *Discovery) SetPublic(public *url.URL) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.public = public
	d.doc, d.keys = nil, nil
}

// Document returns the upstream's discovery document, from the cache when it
// is younger than the TTL. On a failed refresh, a cached document up to ten
// TTLs old is served rather than failing discovery.
func (d *Discovery) Document(ctx context.Context) (map[string]any, error) {
	d.mu.Lock()
	doc, at := d.doc, d.docAt
	d.mu.Unlock()
	if doc != nil && d.now().Sub(at) < d.ttl {
		return doc, nil
	}
	var fresh map[string]any
	if err := d.get(ctx, d.path, &fresh); err != nil {
		if doc != nil && d.now().Sub(at) < 10*d.ttl {
			return doc, nil
		}
		return nil, err
	}
	d.mu.Lock()
	d.doc, d.docAt = fresh, d.now()
	d.mu.Unlock()
	return fresh, nil
}

// Check fetches the upstream's discovery document now, bypassing the cache:
// the readiness probe.
func (d *Discovery) Check(ctx context.Context) error {
	var doc map[string]any
	return d.get(ctx, d.path, &doc)
}

// Metadata reads the fields the gateway needs from the upstream document.
func (d *Discovery) Metadata(ctx context.Context) (*Metadata, error) {
	doc, err := d.Document(ctx)
	if err != nil {
		return nil, err
	}
	return parseMetadata(doc)
}

func parseMetadata(doc map[string]any) (*Metadata, error) {
	m := &Metadata{}
	str := func(name string) string { s, _ := doc[name].(string); return s }
	m.Issuer = str("issuer")
	m.AuthorizationEndpoint = str("authorization_endpoint")
	m.TokenEndpoint = str("token_endpoint")
	m.JWKSURI = str("jwks_uri")
	strs := func(name string) []string {
		var out []string
		list, _ := doc[name].([]any)
		for _, v := range list {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	m.ResponseTypes = strs("response_types_supported")
	m.CodeChallengeMethods = strs("code_challenge_methods_supported")
	var errs []error
	if m.Issuer == "" {
		errs = append(errs, errors.New("upstream discovery has no issuer"))
	}
	if m.AuthorizationEndpoint == "" {
		errs = append(errs, errors.New("upstream discovery has no authorization_endpoint"))
	} else if _, err := url.Parse(m.AuthorizationEndpoint); err != nil {
		errs = append(errs, fmt.Errorf("upstream discovery authorization_endpoint: %w", err))
	}
	return m, errors.Join(errs...)
}

// WaitMetadata polls the upstream's discovery document until it answers or
// ctx ends: used at start-up, when the upstream may still be starting.
func (d *Discovery) WaitMetadata(ctx context.Context, every time.Duration) (*Metadata, error) {
	for {
		m, err := d.Metadata(ctx)
		if err == nil {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("upstream discovery: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(every):
		}
	}
}

// RawKeySet is a JWK set kept as the upstream wrote it: every key is passed
// on byte for byte, including key types and members go-jose does not model,
// so that clients can verify everything the upstream signs.
type RawKeySet struct {
	Keys []json.RawMessage `json:"keys"`
}

// KIDs returns the kid of every key ("" for a key without one).
func (s *RawKeySet) KIDs() []string {
	kids := make([]string, 0, len(s.Keys))
	for _, k := range s.Keys {
		var v struct {
			KID string `json:"kid"`
		}
		_ = json.Unmarshal(k, &v)
		kids = append(kids, v.KID)
	}
	return kids
}

// UpstreamKeys returns the upstream's public key set (from its discovery
// jwks_uri), cached for the TTL; a failed refresh serves the cached set.
func (d *Discovery) UpstreamKeys(ctx context.Context) (*RawKeySet, error) {
	d.mu.Lock()
	keys, at := d.keys, d.keysAt
	d.mu.Unlock()
	if keys != nil && d.now().Sub(at) < d.ttl {
		return keys, nil
	}
	m, err := d.Metadata(ctx)
	if err != nil {
		return serveStale(keys, err)
	}
	var fresh RawKeySet
	if m.JWKSURI != "" {
		if err := d.get(ctx, m.JWKSURI, &fresh); err != nil {
			return serveStale(keys, err)
		}
	}
	d.mu.Lock()
	d.keys, d.keysAt = &fresh, d.now()
	d.mu.Unlock()
	return &fresh, nil
}

func serveStale(keys *RawKeySet, err error) (*RawKeySet, error) {
	if keys != nil {
		return keys, nil
	}
	return nil, err
}
