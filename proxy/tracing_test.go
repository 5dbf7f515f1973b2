package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/parjarm/parjarm/flow"
	"github.com/parjarm/parjarm/par"
)

// traced is a harness whose spans go to an in-memory exporter.
func tracedHarness(t *testing.T, o harnessOptions) (*harness, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	o.tracer = tp
	return newHarness(t, o), exp
}

// ended returns the exported spans once the server spans named have
// ended: a server span ends after its response is written, so a client may
// read the response first.
func ended(t *testing.T, exp *tracetest.InMemoryExporter, servers ...string) spanSet {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := spanSet(exp.GetSpans())
		missing := ""
		for _, name := range servers {
			if len(s.named(name)) == 0 {
				missing = name
			}
		}
		if missing == "" {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span %q ended (spans: %v)", missing, s.names())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// spanSet indexes the exported spans.
type spanSet []tracetest.SpanStub

// named returns the spans called name.
func (s spanSet) named(name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, sp := range s {
		if sp.Name == name {
			out = append(out, sp)
		}
	}
	return out
}

// one returns the only span called name.
func (s spanSet) one(t *testing.T, name string) tracetest.SpanStub {
	t.Helper()
	got := s.named(name)
	if len(got) != 1 {
		t.Fatalf("%d spans %q, want 1 (spans: %v)", len(got), name, s.names())
	}
	return got[0]
}

// children returns the names of parent's direct children, in order.
func (s spanSet) children(parent tracetest.SpanStub) []string {
	var out []string
	for _, sp := range s {
		if sp.Parent.SpanID() == parent.SpanContext.SpanID() && sp.SpanContext.TraceID() == parent.SpanContext.TraceID() {
			out = append(out, sp.Name)
		}
	}
	return out
}

func (s spanSet) names() []string {
	var out []string
	for _, sp := range s {
		out = append(out, sp.Name)
	}
	return out
}

func attrs(sp tracetest.SpanStub) map[string]string {
	m := map[string]string{}
	for _, kv := range sp.Attributes {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

func wantAttrs(t *testing.T, sp tracetest.SpanStub, want map[string]string) {
	t.Helper()
	got := attrs(sp)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("span %q: %s = %q, want %q (all: %v)", sp.Name, k, got[k], v, got)
		}
	}
}

func wantNoAttr(t *testing.T, sp tracetest.SpanStub, keys ...string) {
	t.Helper()
	got := attrs(sp)
	for _, k := range keys {
		if v, ok := got[k]; ok {
			t.Errorf("span %q has %s = %q", sp.Name, k, v)
		}
	}
}

func wantChildren(t *testing.T, s spanSet, parent tracetest.SpanStub, want ...string) {
	t.Helper()
	got := s.children(parent)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("children of %q: %v, want %v", parent.Name, got, want)
	}
}

// noSecrets fails for every span whose name, attributes, events, links or
// status carry one of secrets.
func noSecrets(t *testing.T, s spanSet, secrets ...string) {
	t.Helper()
	check := func(sp tracetest.SpanStub, where, v string) {
		for _, secret := range secrets {
			if secret != "" && strings.Contains(v, secret) {
				t.Errorf("span %q: %s %q carries a secret (%.12s…)", sp.Name, where, v, secret)
			}
		}
	}
	checkAttrs := func(sp tracetest.SpanStub, where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			check(sp, where+" "+string(kv.Key), kv.Value.Emit())
		}
	}
	for _, sp := range s {
		check(sp, "name", sp.Name)
		check(sp, "status", sp.Status.Description)
		checkAttrs(sp, "attribute", sp.Attributes)
		for _, e := range sp.Events {
			check(sp, "event", e.Name)
			checkAttrs(sp, "event attribute", e.Attributes)
		}
		for _, l := range sp.Links {
			checkAttrs(sp, "link attribute", l.Attributes)
		}
		check(sp, "trace state", sp.SpanContext.TraceState().String())
	}
}

// TestTracingPARAndJARMFlow runs a pushed JARM flow through the traced
// gateway: each step has its span, with the store and upstream calls as
// children, the upstream receives the traceparent of the gateway's client
// span, the client's own traceparent is continued, and no span carries the
// client secret, the request_uri, the state, the transaction id, the code,
// a token or the JARM response.
func TestTracingPARAndJARMFlow(t *testing.T) {
	h, exp := tracedHarness(t, harnessOptions{jarm: true})
	const state = "client-state-7f3a9c"
	params := url.Values{"response_type": {"code id_token token"}, "redirect_uri": {redirectURI}, "scope": {"openid"},
		"nonce": {"n-1"}, "state": {state}, "response_mode": {"jwt"}}
	uri := h.mustPush("conf", params)

	// The browser's request carries a trace context of its own (W3C Trace
	// Context, section 3.2).
	const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest(http.MethodGet, h.gw.URL+"/authorize?"+url.Values{"client_id": {"conf"}, "request_uri": {uri}}.Encode(), nil)
	req.Header.Set("Traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d, want 302", resp.StatusCode)
	}
	loc, _ := resp.Location()
	frag, _ := url.ParseQuery(loc.Fragment)
	jwt := frag.Get("response")
	if jwt == "" {
		t.Fatalf("no JARM response in %q", loc)
	}
	txID := h.up.last().Get("state")
	if !flow.IsID(txID) {
		t.Fatalf("upstream state %q", txID)
	}
	s := ended(t, exp, "par.push", "authorize")

	// The push: server span, the PAR service's span, its store write.
	push := s.one(t, "par.push")
	if push.SpanKind != trace.SpanKindServer {
		t.Errorf("par.push kind %v", push.SpanKind)
	}
	wantAttrs(t, push, map[string]string{"http.request.method": "POST", "url.path": "/par", "http.route": "par.push", "http.response.status_code": "201"})
	wantChildren(t, s, push, "par.push.process")
	process := s.one(t, "par.push.process")
	wantAttrs(t, process, map[string]string{"oauth.client_id": "conf", "oauth.client_auth_method": "client_secret_basic", "parjarm.outcome": "created"})
	wantChildren(t, s, process, "store.put")

	// The authorization request continues the client's trace.
	authz := s.one(t, "authorize")
	if authz.SpanContext.TraceID().String() != clientTrace || authz.Parent.SpanID().String() != clientSpan || !authz.Parent.IsRemote() {
		t.Errorf("authorize: trace %s, parent %s (remote %v), want the client's", authz.SpanContext.TraceID(), authz.Parent.SpanID(), authz.Parent.IsRemote())
	}
	wantAttrs(t, authz, map[string]string{"http.request.method": "GET", "url.path": "/authorize", "http.route": "authorize",
		"http.response.status_code": "302", "oauth.client_id": "conf", "oauth.response_mode": "fragment.jwt"})
	wantNoAttr(t, authz, "oauth.error")
	// Expansion reads the pushed request, the flow is opened (its
	// transaction and its expanded query), the upstream is called, and
	// its redirect is intercepted.
	wantChildren(t, s, authz, "store.get", "store.put", "store.put", "upstream", "intercept")
	for _, sp := range s {
		if strings.HasPrefix(sp.Name, "store.") && sp.Parent.SpanID() == authz.SpanContext.SpanID() {
			if ns := attrs(sp)["parjarm.store.namespace"]; ns != "par" && ns != "tx" && ns != "exp" {
				t.Errorf("%s in namespace %q", sp.Name, ns)
			}
		}
	}
	up := s.one(t, "upstream")
	if up.SpanKind != trace.SpanKindClient {
		t.Errorf("upstream kind %v", up.SpanKind)
	}
	wantAttrs(t, up, map[string]string{"http.request.method": "GET", "http.response.status_code": "303"})
	wantNoAttr(t, up, "url.full", "url.path", "url.query")
	// The upstream got the traceparent of the gateway's client span.
	h.up.mu.Lock()
	tps := append([]string(nil), h.up.traceparents...)
	h.up.mu.Unlock()
	if want := fmt.Sprintf("00-%s-%s-01", clientTrace, up.SpanContext.SpanID()); len(tps) != 1 || tps[0] != want {
		t.Errorf("upstream traceparents %q, want [%q]", tps, want)
	}
	// The interception: the transaction is taken (a redirect to the client
	// ends the flow: no read first) with its expanded query, the request_uri
	// consumed.
	icpt := s.one(t, "intercept")
	wantAttrs(t, icpt, map[string]string{"parjarm.outcome": "delivered", "oauth.client_id": "conf", "oauth.response_mode": "fragment.jwt"})
	wantChildren(t, s, icpt, "store.take", "store.take", "store.take")
	var namespaces []string
	for _, sp := range s {
		if sp.Parent.SpanID() == icpt.SpanContext.SpanID() {
			namespaces = append(namespaces, attrs(sp)["parjarm.store.namespace"])
		}
	}
	if got := strings.Join(namespaces, ","); got != "tx,exp,par" {
		t.Errorf("intercept store namespaces %s, want tx,exp,par", got)
	}

	noSecrets(t, s, confSecret, uri, strings.TrimPrefix(uri, par.RequestURIPrefix), state, txID, "pjt_",
		"code-123", "at-456", "eyJ.idtoken.sig", jwt, "n-1")
}

// TestTracingRefusals: a refusal's server span names the OAuth error and
// the status, never the rejected value.
func TestTracingRefusals(t *testing.T) {
	h, exp := tracedHarness(t, harnessOptions{})
	badURI := par.RequestURIPrefix + "forged-0123456789"
	resp := h.get("/authorize?" + url.Values{"client_id": {"conf"}, "request_uri": {badURI}}.Encode())
	wantErrorPage(t, resp, http.StatusBadRequest, "invalid_request_uri")

	resp = h.push("conf", url.Values{"client_secret": {"wrong-secret-42"}})
	resp.Body.Close()
	// client_secret_basic with the right secret and a client_secret in the
	// body: two methods, refused.
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("push: status %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, h.gw.URL+"/par", strings.NewReader("client_id=conf&response_type=code"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("conf", "wrong-secret-43")
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("push with a wrong secret: status %d, want 401", resp.StatusCode)
	}

	s := ended(t, exp, "authorize")
	for len(s.named("par.push")) < 2 {
		s = ended(t, exp, "authorize", "par.push")
	}
	authz := s.one(t, "authorize")
	wantAttrs(t, authz, map[string]string{"oauth.error": "invalid_request_uri", "http.response.status_code": "400"})
	pushes := s.named("par.push.process")
	if len(pushes) != 2 {
		t.Fatalf("%d par.push.process spans", len(pushes))
	}
	wantAttrs(t, pushes[1], map[string]string{"oauth.client_id": "conf", "parjarm.outcome": "invalid_client"})
	wantNoAttr(t, pushes[1], "oauth.client_auth_method")
	wantAttrs(t, s.named("par.push")[1], map[string]string{"http.response.status_code": "401"})
	noSecrets(t, s, badURI, "forged-0123456789", "wrong-secret-42", "wrong-secret-43", confSecret)
}

// TestTracingPassThrough: a pass-through request's span is "proxy", with
// neither its path nor its query, and the upstream gets the traceparent.
func TestTracingPassThrough(t *testing.T) {
	h, exp := tracedHarness(t, harnessOptions{})
	resp := h.get("/echo?token=opaque-secret-99")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	s := ended(t, exp, "proxy")
	srv := s.one(t, "proxy")
	wantAttrs(t, srv, map[string]string{"http.route": "proxy", "http.request.method": "GET", "http.response.status_code": "200"})
	wantNoAttr(t, srv, "url.path", "url.query", "url.full")
	up := s.one(t, "upstream")
	wantChildren(t, s, srv, "upstream")
	h.up.mu.Lock()
	got := h.up.headers.Get("Traceparent")
	h.up.mu.Unlock()
	if want := fmt.Sprintf("00-%s-%s-01", up.SpanContext.TraceID(), up.SpanContext.SpanID()); got != want {
		t.Errorf("upstream traceparent %q, want %q", got, want)
	}
	noSecrets(t, s, "/echo", "opaque-secret-99")
}

// TestTracingOffChangesNothing: without a tracer the client's traceparent
// passes through untouched, as any other header, and no span is made.
func TestTracingOffChangesNothing(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	if h.gateway.tracer != nil {
		t.Fatal("a tracer without a provider")
	}
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ := http.NewRequest(http.MethodGet, h.gw.URL+"/echo", nil)
	req.Header.Set("Traceparent", tp)
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h.up.mu.Lock()
	got := h.up.headers.Get("Traceparent")
	h.up.mu.Unlock()
	if got != tp {
		t.Fatalf("upstream traceparent %q, want the client's %q", got, tp)
	}
}

// TestTracingRefusedInterception: an upstream redirect that hides the
// state (stray) is refused in an "intercept" span that is an error and
// names the error code, without the code that was not delivered.
func TestTracingRefusedInterception(t *testing.T) {
	h, exp := tracedHarness(t, harnessOptions{})
	h.up.setRespond(func(q url.Values) string {
		return q.Get("redirect_uri") + "?code=never-delivered-77;state=" + q.Get("state")
	})
	uri := h.mustPush("conf", codeFlow("s-1"))
	wantErrorPage(t, h.authorize(url.Values{"client_id": {"conf"}, "request_uri": {uri}}), http.StatusBadGateway, "server_error")
	s := ended(t, exp, "authorize")
	icpt := s.one(t, "intercept")
	wantAttrs(t, icpt, map[string]string{"parjarm.outcome": "server_error"})
	if icpt.Status.Code.String() != "Error" || icpt.Status.Description != "server_error" {
		t.Errorf("intercept status %v", icpt.Status)
	}
	// The live transaction it names is peeked at and taken.
	wantChildren(t, s, icpt, "store.get", "store.take", "store.take")
	wantAttrs(t, s.one(t, "authorize"), map[string]string{"oauth.error": "server_error", "http.response.status_code": "502"})
	noSecrets(t, s, "never-delivered-77", uri, h.up.last().Get("state"), "pjt_")
}
