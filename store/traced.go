package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Traced returns st with a span around every Put, Get, Take and
// PutIfAbsent ("store.put", "store.get", "store.take",
// "store.put_if_absent"), children of the span in the call's context.
// A span names the key's namespace only, never the key: keys are hashes of
// request_uris, transaction ids and codes. Ping and Close are not traced
// (readiness probes would flood the traces). With tr nil it returns st.
func Traced(st Store, tr trace.Tracer) Store {
	if tr == nil {
		return st
	}
	return &traced{Store: st, tr: tr}
}

type traced struct {
	Store
	tr trace.Tracer
}

// Attribute keys of the store spans.
const (
	attrNamespace = attribute.Key("parjarm.store.namespace")
	attrFound     = attribute.Key("parjarm.store.found")
	attrStored    = attribute.Key("parjarm.store.stored")
)

// namespace is the namespace of a key made by Key ("parjarm:ns:…"), or
// "other".
func namespace(key string) string {
	rest, ok := strings.CutPrefix(key, "parjarm:")
	if !ok {
		return "other"
	}
	ns, _, ok := strings.Cut(rest, ":")
	if !ok || ns == "" {
		return "other"
	}
	return ns
}

func (t *traced) start(ctx context.Context, name, key string) (context.Context, trace.Span) {
	return t.tr.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrNamespace.String(namespace(key))))
}

// end ends span with err's kind as its status: a missing key is an answer,
// not an error. The error's text is not recorded (it is the backend's, and
// this package does not vouch for what it quotes).
func end(span trace.Span, err error) {
	switch {
	case err == nil, errors.Is(err, ErrNotFound):
	case errors.Is(err, ErrUnavailable):
		span.SetStatus(codes.Error, "unavailable")
	case errors.Is(err, ErrInvalidTTL):
		span.SetStatus(codes.Error, "invalid ttl")
	default:
		span.SetStatus(codes.Error, "error")
	}
	span.End()
}

func (t *traced) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, span := t.start(ctx, "store.put", key)
	err := t.Store.Put(ctx, key, value, ttl)
	end(span, err)
	return err
}

func (t *traced) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, span := t.start(ctx, "store.get", key)
	v, err := t.Store.Get(ctx, key)
	span.SetAttributes(attrFound.Bool(err == nil))
	end(span, err)
	return v, err
}

func (t *traced) Take(ctx context.Context, key string) ([]byte, error) {
	ctx, span := t.start(ctx, "store.take", key)
	v, err := t.Store.Take(ctx, key)
	span.SetAttributes(attrFound.Bool(err == nil))
	end(span, err)
	return v, err
}

func (t *traced) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ctx, span := t.start(ctx, "store.put_if_absent", key)
	ok, err := t.Store.PutIfAbsent(ctx, key, value, ttl)
	span.SetAttributes(attrStored.Bool(ok))
	end(span, err)
	return ok, err
}

func (t *traced) PutAll(ctx context.Context, entries []Entry) error {
	key := ""
	if len(entries) > 0 {
		key = entries[0].Key
	}
	ctx, span := t.start(ctx, "store.put_all", key)
	err := t.Store.PutAll(ctx, entries)
	end(span, err)
	return err
}

func (t *traced) TakeLinked(ctx context.Context, key string) ([]byte, map[string][]byte, error) {
	ctx, span := t.start(ctx, "store.take_linked", key)
	v, linked, err := t.Store.TakeLinked(ctx, key)
	span.SetAttributes(attrFound.Bool(err == nil))
	end(span, err)
	return v, linked, err
}

func (t *traced) PutIfAbsentThen(ctx context.Context, mark Entry, then []Entry) (bool, error) {
	ctx, span := t.start(ctx, "store.put_if_absent_then", mark.Key)
	ok, err := t.Store.PutIfAbsentThen(ctx, mark, then)
	span.SetAttributes(attrStored.Bool(ok))
	end(span, err)
	return ok, err
}
