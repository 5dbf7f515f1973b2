package proxy

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parjarm/parjarm/flow"
	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/store"
)

// TestRedisHoldsNothingReadable (issue 10, encryption at rest): a PAR flow
// with distinctive parameter values runs through the gateway on a real
// redis-server; neither the keys and values Redis holds at each step nor
// the MONITOR stream of every command reveal a parameter value, the
// request_uri, the transaction id or the code.
func TestRedisHoldsNothingReadable(t *testing.T) {
	srv := redistest.Start(t)
	st, err := store.NewRedis(store.RedisOptions{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opts, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	mon := startMonitor(t, srv.Addr())

	h := codeHarness(t, st, nil)
	const tenantRedirect = "https://client.example/cb?tenant=7"
	params := pkce(codeFlow("client-state-marker-55d1"))
	params.Set("redirect_uri", tenantRedirect)
	params.Set("login_hint", "alice@bank.example")
	params.Set("claims", `{"id_token":{"acr":{"essential":true,"value":"claims-marker-7f3a"}}}`)
	params.Set("authorization_details", `[{"type":"payment_initiation","creditorName":"authz-details-marker-91c2"}]`)
	params.Set("nonce", "nonce-marker-d40e")
	markers := []string{"alice@bank.example", "claims-marker-7f3a", "authz-details-marker-91c2", "nonce-marker-d40e",
		"client-state-marker-55d1", params.Get("code_challenge"), "tenant=7", "client.example"}

	h.up.setRespond(func(q url.Values) string {
		return q.Get("redirect_uri") + "&" + url.Values{"code": {"code-atrest-3b9e1c"}, "state": {q.Get("state")}}.Encode()
	})
	// The upstream asks the user to log in first, so that the flow can be
	// looked at while it waits.
	h.up.setInteractive(true)

	uri := h.mustPush("conf", params)
	secrets := []string{uri, strings.TrimPrefix(uri, "urn:ietf:params:oauth:request_uri:")}
	steps := map[string]int{}
	check := func(step string, wantKeys ...string) {
		t.Helper()
		keys, values := redisContents(t, ctx, rdb)
		for _, ns := range wantKeys {
			if !hasKeyIn(keys, ns) {
				t.Fatalf("%s: Redis holds no %s entry (keys %q): the check would see nothing", step, ns, keys)
			}
		}
		steps[step] = len(keys)
		for i, k := range keys {
			for _, s := range append(markers, secrets...) {
				if revealed(k, s) {
					t.Errorf("%s: the key name %q reveals %q", step, k, s)
				}
				if revealed(values[i], s) {
					t.Errorf("%s: the value of %q reveals %q", step, k, s)
				}
			}
		}
	}
	check("after the push", store.NSRequestURI)

	// The authorization request, up to the upstream's login page.
	resp := h.get("/authorize?" + url.Values{"client_id": {"conf"}, "request_uri": {uri}}.Encode())
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || resp.StatusCode/100 != 3 {
		t.Fatalf("authorize: %d %v", resp.StatusCode, err)
	}
	saved, err := url.Parse(loc.Query().Get("return"))
	if err != nil {
		t.Fatal(err)
	}
	txID := saved.Query().Get("state")
	if !flow.IsID(txID) {
		t.Fatalf("the upstream is sent state %q, want a transaction id", txID)
	}
	secrets = append(secrets, txID, strings.TrimPrefix(txID, "pjt_"))
	check("during the flow", store.NSRequestURI, store.NSTransaction, store.NSExpanded)

	// The upstream answers, the gateway delivers the code.
	resp = h.follow(loc.String())
	resp.Body.Close()
	delivered, err := resp.Location()
	if err != nil || delivered.Query().Get("code") == "" {
		t.Fatalf("the flow delivered no code: %d %v", resp.StatusCode, delivered)
	}
	if got := delivered.Query().Get("state"); got != "client-state-marker-55d1" {
		t.Fatalf("delivered state %q, want the client's", got)
	}
	code := delivered.Query().Get("code")
	secrets = append(secrets, code)
	check("after the response", store.NSCode, store.NSCodeIssued)

	// The flow still works end to end: the code redeems at the token endpoint.
	body := with(redemption(code), "redirect_uri", tenantRedirect)
	wantRedeemed(t, h, h.redeem("/token", "conf", body), body.Encode())

	lines := mon.stop(t, ctx, rdb)
	sets := 0
	for _, l := range lines {
		if strings.Contains(strings.ToLower(l), `"set"`) {
			sets++
		}
		for _, s := range append(markers, secrets...) {
			if revealed(l, s) {
				t.Errorf("MONITOR shows %q in %s", s, l)
			}
		}
	}
	if sets < 3 {
		t.Fatalf("MONITOR saw %d SET commands (%q): the check would see nothing", sets, lines)
	}
}

// revealed reports whether s appears in v raw, base64- or hex-encoded.
func revealed(v, s string) bool {
	for _, enc := range []string{s,
		base64.StdEncoding.EncodeToString([]byte(s)), base64.RawStdEncoding.EncodeToString([]byte(s)),
		base64.URLEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s)),
		hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s))),
	} {
		if strings.Contains(v, enc) {
			return true
		}
	}
	return false
}

func hasKeyIn(keys []string, ns string) bool {
	for _, k := range keys {
		if strings.HasPrefix(k, "parjarm:"+ns+":") {
			return true
		}
	}
	return false
}

// redisContents reads every key in Redis and its value, as an operator with
// the dump would.
func redisContents(t *testing.T, ctx context.Context, rdb *redis.Client) (keys, values []string) {
	t.Helper()
	iter := rdb.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		v, err := rdb.Get(ctx, k).Result()
		if err != nil {
			t.Fatalf("GET %s: %v", k, err)
		}
		dump, err := rdb.Dump(ctx, k).Result()
		if err != nil {
			t.Fatalf("DUMP %s: %v", k, err)
		}
		values = append(values, v+"\x00"+dump)
	}
	return keys, values
}

// monitor reads the MONITOR stream of a Redis server over its own
// connection, as an operator with redis-cli monitor would.
type monitor struct {
	conn net.Conn
	r    *bufio.Reader
}

func startMonitor(t *testing.T, addr string) *monitor {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	m := &monitor{conn: conn, r: bufio.NewReader(conn)}
	if _, err := io.WriteString(conn, "MONITOR\r\n"); err != nil {
		t.Fatal(err)
	}
	if l := m.line(t); l != "+OK" {
		t.Fatalf("MONITOR answered %q", l)
	}
	return m
}

func (m *monitor) line(t *testing.T) string {
	t.Helper()
	_ = m.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := m.r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading MONITOR: %v", err)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// stop sends a sentinel command and returns every line up to it.
func (m *monitor) stop(t *testing.T, ctx context.Context, rdb *redis.Client) []string {
	t.Helper()
	const sentinel = "parjarm-monitor-sentinel"
	if err := rdb.Get(ctx, sentinel).Err(); err != redis.Nil {
		t.Fatalf("GET sentinel: %v", err)
	}
	var lines []string
	for {
		l := m.line(t)
		if strings.Contains(l, sentinel) {
			return lines
		}
		lines = append(lines, l)
	}
}
