package par

import (
	"context"
	"errors"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/parjarm/parjarm/authreq"
	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/oauth"
	"github.com/parjarm/parjarm/profile"
	"github.com/parjarm/parjarm/store"
)

// Expansion is a pushed request being used at the authorization endpoint.
type Expansion struct {
	// Client is the client that pushed the request, as currently registered.
	Client *client.Client
	// Params are the full authorization parameters as pushed (after JAR, if
	// any), never including request_uri or request.
	Params url.Values
	// Key is the store key of the request_uri, for Consume.
	Key string
	// ExpiresAt is when the request_uri stops being accepted for expansion.
	ExpiresAt time.Time
}

// errUnknownRequestURI is the one answer for an unknown, used or foreign
// request_uri: which of them it is is not told (RFC 9126, section 4).
var errUnknownRequestURI = oauth.ErrInvalidRequestURI.WithDescription("request_uri is unknown, expired or already used")

// Expand looks up requestURI for clientID at the authorization endpoint
// (RFC 9126, section 4). It does not consume it, so that a reload of the
// authorization page before the flow completes still works; Consume does
// that when the flow completes. The stored request is re-checked against the
// client's current policy (RFC 9126, section 7.4).
//
// Unknown, expired or another client's request_uri: invalid_request_uri.
// Store unavailable: temporarily_unavailable. Missing client_id:
// invalid_request. A stored request that fails the client's current policy
// returns its Expansion together with the error.
func (s *Service) Expand(ctx context.Context, clientID, requestURI string) (*Expansion, error) {
	e, err := s.expand(ctx, clientID, requestURI)
	outcome := "expanded"
	if err != nil {
		oe := oauth.From(err)
		outcome = oe.Code
		if oe.Status >= 500 {
			s.log.Warn("request_uri expansion failed", zap.String("client_id", authreq.Truncate(clientID)), zap.String("outcome", outcome), zap.NamedError("cause", errors.Unwrap(oe)))
		} else {
			s.log.Info("request_uri expansion refused", zap.String("client_id", authreq.Truncate(clientID)), zap.String("outcome", outcome), zap.String("description", oe.Description))
		}
	} else {
		s.log.Debug("request_uri expanded", zap.String("client_id", clientID), zap.String("outcome", outcome))
	}
	if s.m != nil {
		s.m.Expansions.WithLabelValues(outcome).Inc()
	}
	return e, err
}

func (s *Service) expand(ctx context.Context, clientID, requestURI string) (*Expansion, error) {
	if clientID == "" {
		// RFC 9126, section 4: client_id accompanies request_uri.
		return nil, oauth.ErrInvalidRequest.WithDescription("client_id is required")
	}
	if !IsRequestURI(requestURI) {
		return nil, errUnknownRequestURI
	}
	key := RequestURIKey(requestURI)
	raw, err := s.store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnknownRequestURI
	}
	if err != nil {
		return nil, storeError(err)
	}
	// A value that does not open (written unsealed by an older version, or
	// moved from another key) is an unknown request_uri: the client pushes
	// again.
	raw, err = store.Open(store.NSRequestURI, requestURI, raw)
	if err != nil {
		return nil, errUnknownRequestURI.WithCause(err)
	}
	// So is one that does not decode: corrupt, or in a format this version
	// does not know.
	var rec PushedRequest
	if err := rec.unmarshal(raw); err != nil {
		return nil, errUnknownRequestURI.WithCause(err)
	}
	// RFC 9126, section 2.2: the request_uri is bound to the pushing client.
	if rec.ClientID != clientID {
		return nil, errUnknownRequestURI
	}
	if !s.Now().Before(rec.ExpiresAt) {
		return nil, oauth.ErrInvalidRequestURI.WithDescription("request_uri has expired")
	}
	c, ok := s.reg.Lookup(clientID)
	if !ok {
		return nil, oauth.ErrInvalidRequestURI.WithDescription("the client is no longer registered")
	}
	exp := &Expansion{Client: c, Params: rec.Params, Key: key, ExpiresAt: rec.ExpiresAt}
	// RFC 9126, section 7.4: the client's policy may have changed since the
	// push. The Expansion comes back with the error so that the caller can
	// answer in the client's response mode when its redirect_uri is still
	// registered.
	if !rec.Signed && (s.opts.RequireSignedRequestObject || c.RequireSignedRequestObject) {
		return exp, oauth.ErrInvalidRequest.WithDescription("a signed request object is required")
	}
	if !rec.Signed {
		// The client's profile may now require a request object.
		if err := profile.CheckPush(s.profile(c), profile.Push{Now: s.Now()}); err != nil {
			return exp, err
		}
	}
	if err := s.Validate(rec.Params, c); err != nil {
		return exp, err
	}
	return exp, nil
}

// Consumed is the answer of a completion whose transaction was taken
// together with its request_uri (flow.Tracker.Take): nil when the pushed
// request was still there, else invalid_request_uri, as Consume answers a
// request_uri already used by a racing flow.
func Consumed(taken bool) error {
	if !taken {
		return errUnknownRequestURI
	}
	return nil
}

// Consume atomically takes the request_uri stored under key (an
// Expansion's Key) when its flow completes (RFC 9126, section 4 and 7.3):
// of two flows on one request_uri only one consumes it; a second Consume is
// invalid_request_uri.
func (s *Service) Consume(ctx context.Context, key string) error {
	_, err := s.store.Take(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownRequestURI
	}
	if err != nil {
		return storeError(err)
	}
	return nil
}
