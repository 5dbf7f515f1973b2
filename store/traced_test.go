package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/parjarm/parjarm/store"
	"github.com/parjarm/parjarm/store/storetest"
)

// TestTracedConformance: the decorator keeps every promise of the store it
// wraps.
func TestTracedConformance(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewInMemoryExporter()))
	storetest.Run(t, func(t *testing.T) (store.Store, storetest.FastForward) {
		c := newFakeClock()
		return store.Traced(store.NewMemory(store.MemoryOptions{Now: c.Now}), tp.Tracer("test")), c.Advance
	})
}

func TestTracedWithoutATracerIsTheStoreItself(t *testing.T) {
	m := store.NewMemory(store.MemoryOptions{})
	defer m.Close()
	if got := store.Traced(m, nil); got != store.Store(m) {
		t.Fatalf("Traced(m, nil) = %T, want the memory store itself", got)
	}
}

// TestTracedSpans checks each operation's span: its name, its parent, the
// namespace and outcome attributes, its status, and that neither the key
// nor the secret it hashes appears anywhere in it.
func TestTracedSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tr := tp.Tracer("test")
	m := store.NewMemory(store.MemoryOptions{MaxEntries: 2})
	defer m.Close()
	st := store.Traced(m, tr)

	const secret = "urn:ietf:params:oauth:request_uri:very-secret"
	key := store.Key(store.NSRequestURI, secret)
	ctx, parent := tr.Start(context.Background(), "parent")
	mustNoErr(t, st.Put(ctx, key, []byte("v"), time.Minute))
	_, err := st.Get(ctx, key)
	mustNoErr(t, err)
	_, err = st.Take(ctx, key)
	mustNoErr(t, err)
	if _, err := st.Take(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second take: %v", err)
	}
	ok, err := st.PutIfAbsent(ctx, store.Key(store.NSJTI, "jti-1"), []byte{1}, time.Minute)
	mustNoErr(t, err)
	if !ok {
		t.Fatal("put-if-absent did not store")
	}
	mustNoErr(t, st.Put(ctx, "unnamespaced", []byte("v"), time.Minute))
	// The store is full now (two entries): the write fails as unavailable.
	if err := st.Put(ctx, store.Key(store.NSTransaction, "pjt_x"), []byte("v"), time.Minute); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("put into a full store: %v", err)
	}
	mustNoErr(t, st.Ping(ctx))
	parent.End()

	type want struct {
		name, ns string
		attr     string // the outcome attribute and its value, "" for none
		status   codes.Code
	}
	wants := []want{
		{"store.put", "par", "", codes.Unset},
		{"store.get", "par", "parjarm.store.found=true", codes.Unset},
		{"store.take", "par", "parjarm.store.found=true", codes.Unset},
		{"store.take", "par", "parjarm.store.found=false", codes.Unset},
		{"store.put_if_absent", "jti", "parjarm.store.stored=true", codes.Unset},
		{"store.put", "other", "", codes.Unset},
		{"store.put", "tx", "", codes.Error},
	}
	spans := exp.GetSpans()
	if len(spans) != len(wants)+1 { // and the parent; Ping has none
		t.Fatalf("%d spans, want %d", len(spans), len(wants)+1)
	}
	for i, w := range wants {
		s := spans[i]
		if s.Name != w.name || s.Parent.SpanID() != parent.SpanContext().SpanID() || s.SpanKind != trace.SpanKindClient {
			t.Errorf("span %d: %q, parent %v, kind %v", i, s.Name, s.Parent.SpanID(), s.SpanKind)
		}
		attrs := map[string]string{}
		for _, kv := range s.Attributes {
			attrs[string(kv.Key)] = kv.Value.Emit()
			for _, leak := range []string{key, secret, "very-secret", strings.TrimPrefix(key, "parjarm:par:"), "pjt_x", "jti-1"} {
				if strings.Contains(kv.Value.Emit(), leak) {
					t.Errorf("span %d: attribute %s = %q carries the key or its secret", i, kv.Key, kv.Value.Emit())
				}
			}
		}
		if attrs["parjarm.store.namespace"] != w.ns {
			t.Errorf("span %d: namespace %q, want %q", i, attrs["parjarm.store.namespace"], w.ns)
		}
		if w.attr != "" {
			k, v, _ := strings.Cut(w.attr, "=")
			if attrs[k] != v {
				t.Errorf("span %d: %s = %q, want %q", i, k, attrs[k], v)
			}
		}
		if s.Status.Code != w.status {
			t.Errorf("span %d: status %v, want %v", i, s.Status.Code, w.status)
		}
		if s.Status.Code == codes.Error && s.Status.Description != "unavailable" {
			t.Errorf("span %d: status description %q, want only the error's kind", i, s.Status.Description)
		}
		if len(s.Events) != 0 {
			t.Errorf("span %d: events %v", i, s.Events)
		}
	}
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
