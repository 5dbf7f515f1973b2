package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/parjarm/parjarm/internal/redistest"
	"github.com/parjarm/parjarm/jarm"
)

// reloadGateway is a gateway run for reload tests, with the files it
// reloads.
type reloadGateway struct {
	t                    *testing.T
	public, admin        string
	clientsPath, keyPath string
}

// in is g for the subtest t.
func (g *reloadGateway) in(t *testing.T) *reloadGateway {
	c := *g
	c.t = t
	return &c
}

func (g *reloadGateway) write(path, content string) {
	g.t.Helper()
	// Written whole and renamed over, as an operator's tooling should.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		g.t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		g.t.Fatal(err)
	}
}

// reloads reads parjarm_config_reload_total{result}.
func (g *reloadGateway) reloads(result string) int {
	g.t.Helper()
	resp, err := http.Get("http://" + g.admin + "/metrics")
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^parjarm_config_reload_total\{result="` + result + `"\} (\d+)$`).FindSubmatch(b)
	if m == nil {
		g.t.Fatalf("no parjarm_config_reload_total{result=%q} in the metrics", result)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// hup sends SIGHUP and waits until the reload it causes is counted with
// result.
func (g *reloadGateway) hup(result string) {
	g.t.Helper()
	before := g.reloads(result)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		g.t.Fatal(err)
	}
	g.waitReloads(result, before+1)
}

func (g *reloadGateway) waitReloads(result string, n int) {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for g.reloads(result) < n {
		if time.Now().After(deadline) {
			g.t.Fatalf("no %s reload counted", result)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (g *reloadGateway) readyz() (int, string) {
	g.t.Helper()
	resp, err := http.Get("http://" + g.admin + "/readyz")
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// push pushes a JARM code flow for id; it returns the status, the OAuth
// error and the request_uri.
func (g *reloadGateway) push(id string) (int, string, string, error) {
	form := url.Values{"client_id": {id}, "response_type": {"code"}, "redirect_uri": {"https://" + id + ".example/cb"},
		"scope": {"openid"}, "state": {"state-" + id}, "response_mode": {"jwt"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	req, err := http.NewRequest(http.MethodPost, g.public+"/par", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, id+"-secret-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	var body struct {
		Error      string `json:"error"`
		RequestURI string `json:"request_uri"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Error, body.RequestURI, nil
}

// pushStatus pushes for id and returns the status and the OAuth error.
func (g *reloadGateway) pushStatus(id string) (int, string) {
	g.t.Helper()
	status, code, _, err := g.push(id)
	if err != nil {
		g.t.Fatal(err)
	}
	return status, code
}

// authorize completes a pushed flow: the upstream answers at once with a
// code, the gateway delivers it as a JARM response. It returns the status
// and the redirect's Location.
func (g *reloadGateway) authorize(id, requestURI string) (int, string, error) {
	resp, err := noRedirect.Get(g.public + "/auth?" + url.Values{"client_id": {id}, "request_uri": {requestURI}}.Encode())
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// jwks fetches the gateway's published key set.
func (g *reloadGateway) jwks() (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	resp, err := http.Get(g.public + "/.well-known/parjarm/jwks.json")
	if err != nil {
		return set, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return set, fmt.Errorf("jwks: %d", resp.StatusCode)
	}
	err = json.NewDecoder(resp.Body).Decode(&set)
	return set, err
}

// verifyJARM checks the JARM response in location as a client does, with
// keys (its cached copy of the gateway's key set): ES256 only, the key by
// kid, iss, aud and state. It returns the kid that signed.
func verifyJARM(location, issuer, id string, keys jose.JSONWebKeySet) (string, error) {
	u, err := url.Parse(location)
	if err != nil {
		return "", err
	}
	raw := u.Query().Get("response")
	if raw == "" {
		return "", fmt.Errorf("no JARM response in %q", location)
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return "", err
	}
	kid := jws.Signatures[0].Header.KeyID
	found := keys.Key(kid)
	if len(found) != 1 {
		return kid, fmt.Errorf("kid %q is not in the client's key set", kid)
	}
	payload, err := jws.Verify(found[0])
	if err != nil {
		return kid, err
	}
	var claims struct {
		Iss, Aud, State, Code string
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return kid, err
	}
	if claims.Iss != issuer || claims.Aud != id || claims.State != "state-"+id || claims.Code == "" {
		return kid, fmt.Errorf("claims %+v", claims)
	}
	return kid, nil
}

// flow runs one whole flow for id and verifies its response against the
// key set published afterwards; it returns the signing kid.
func (g *reloadGateway) flow(id string) (string, error) {
	status, code, requestURI, err := g.push(id)
	if err != nil {
		return "", err
	}
	if status != http.StatusCreated {
		return "", fmt.Errorf("push %s: %d %s", id, status, code)
	}
	status, loc, err := g.authorize(id, requestURI)
	if err != nil {
		return "", err
	}
	if status != http.StatusSeeOther && status != http.StatusFound {
		return "", fmt.Errorf("authorize %s: %d", id, status)
	}
	keys, err := g.jwks()
	if err != nil {
		return "", err
	}
	return verifyJARM(loc, g.public, id, keys)
}

func clientsFile(ids ...string) string {
	var cs []string
	for _, id := range ids {
		cs = append(cs, `{"client_id":"`+id+`","client_secret":"`+id+`-secret-0123456789","redirect_uris":["https://`+id+`.example/cb"]}`)
	}
	return `{"clients":[` + strings.Join(cs, ",") + `]}`
}

// keyJWK is a private ES256 JWK with extra members.
func keyJWK(t *testing.T, key *ecdsa.PrivateKey, kid string, members map[string]any) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: "ES256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for k, v := range members {
		m[k] = v
	}
	b, _ = json.Marshal(m)
	return string(b)
}

func keysFile(jwks ...string) string { return `{"keys":[` + strings.Join(jwks, ",") + `]}` }

// startReloadGateway runs a gateway with the clients file clients (or,
// when it names a file, that file), the keys file keys and
// PARJARM_RELOAD_INTERVAL interval.
func startReloadGateway(t *testing.T, interval, clients, keys string) *reloadGateway {
	t.Helper()
	redis := redistest.Start(t)
	listen, admin := freeAddr(t), freeAddr(t)
	public := "http://" + listen
	up := newCodeUpstream(t, public)
	dir := t.TempDir()
	g := &reloadGateway{t: t, public: public, admin: admin,
		clientsPath: filepath.Join(dir, "clients.json"), keyPath: filepath.Join(dir, "keys.json")}
	if strings.HasPrefix(clients, "{") {
		g.write(g.clientsPath, clients)
	} else {
		g.clientsPath = clients
	}
	g.write(g.keyPath, keys)
	startGateway(t, map[string]string{
		"PARJARM_UPSTREAM_URL": up.srv.URL, "PARJARM_ISSUER": public, "PARJARM_ALLOW_INSECURE_HTTP": "true",
		"PARJARM_LISTEN_ADDR": listen, "PARJARM_ADMIN_ADDR": admin, "PARJARM_REDIS_URL": redis.URL(),
		"PARJARM_CLIENTS_FILE": g.clientsPath, "PARJARM_SIGNING_KEYS_FILE": g.keyPath,
		"PARJARM_DEFAULT_SIGNING_ALG": "ES256", "PARJARM_RELOAD_INTERVAL": interval,
	})
	return g
}

// TestReloadWhileServing changes the clients and the signing keys of a
// running gateway (real Redis) by SIGHUP while two goroutines run whole
// PAR + JARM flows without pause: a client is added, one is removed (its
// flow in flight fails cleanly), a broken file is refused (the old set
// serves, the failure is counted and shown by /readyz, which stays 200),
// and a key is rotated: next → promoted → retired → past its date. No flow
// of the steady client fails because of a reload.
func TestReloadWhileServing(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	g := startReloadGateway(t, "0", clientsFile("app", "gone"), keysFile(keyJWK(t, k1, "k1", nil)))

	// The steady load: whole flows of "app", verified against the key set
	// published after each.
	var flows, failures atomic.Int64
	var failMu sync.Mutex
	var firstFailure error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// A short pause leaves the machine's other work some CPU.
				time.Sleep(2 * time.Millisecond)
				if _, err := g.flow("app"); err != nil {
					failures.Add(1)
					failMu.Lock()
					if firstFailure == nil {
						firstFailure = err
					}
					failMu.Unlock()
				}
				flows.Add(1)
			}
		}()
	}
	stopLoad := func() {
		t.Helper()
		close(stop)
		wg.Wait()
		if n := failures.Load(); n != 0 {
			t.Errorf("%d of %d flows of the steady client failed; the first: %v", n, flows.Load(), firstFailure)
		}
		if flows.Load() < 10 {
			t.Errorf("only %d flows ran during the reloads", flows.Load())
		}
	}
	defer func() {
		select {
		case <-stop:
		default:
			stopLoad()
		}
	}()

	t.Run("add a client", func(t *testing.T) {
		g := g.in(t)
		if status, code := g.pushStatus("new"); status != http.StatusUnauthorized || code != "invalid_client" {
			t.Fatalf("an unknown client's push: %d %s", status, code)
		}
		g.write(g.clientsPath, clientsFile("app", "gone", "new"))
		g.hup("success")
		if _, err := g.flow("new"); err != nil {
			t.Fatalf("the added client: %v", err)
		}
	})

	t.Run("remove a client", func(t *testing.T) {
		g := g.in(t)
		status, _, inFlight, err := g.push("gone")
		if err != nil || status != http.StatusCreated {
			t.Fatalf("push before the removal: %d %v", status, err)
		}
		g.write(g.clientsPath, clientsFile("app", "new"))
		g.hup("success")
		if status, code := g.pushStatus("gone"); status != http.StatusUnauthorized || code != "invalid_client" {
			t.Fatalf("the removed client's push: %d %s, want 401 invalid_client", status, code)
		}
		// Its flow in flight ends with an error page, never a redirect
		// carrying a code or a JARM response.
		status, loc, err := g.authorize("gone", inFlight)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusBadRequest || loc != "" {
			t.Fatalf("the removed client's flow in flight: %d %q, want 400 without a redirect", status, loc)
		}
	})

	t.Run("a broken file keeps the running set", func(t *testing.T) {
		g := g.in(t)
		failed := g.reloads("failure")
		g.write(g.clientsPath, `{"clients":[{"client_id":"x1","client_secret":"x1-secret-0123456789"},{"client_id":"x2","client_secret":"x2-secret-0123456789"}]}`)
		g.hup("failure")
		if n := g.reloads("failure"); n != failed+1 {
			t.Fatalf("failures counted %d, want %d", n, failed+1)
		}
		status, body := g.readyz()
		if status != http.StatusOK || !strings.HasPrefix(body, "ready\n") {
			t.Fatalf("readyz after a failed reload: %d %q", status, body)
		}
		for _, want := range []string{"config reload failed at", "PARJARM_CLIENTS_FILE", `client "x1"`, `client "x2"`, "redirect_uris"} {
			if !strings.Contains(body, want) {
				t.Errorf("readyz %q does not mention %q", body, want)
			}
		}
		if _, err := g.flow("new"); err != nil {
			t.Fatalf("the running set no longer serves: %v", err)
		}
		if status, code := g.pushStatus("x1"); status != http.StatusUnauthorized || code != "invalid_client" {
			t.Fatalf("a client of the refused file: %d %s", status, code)
		}
		// A keys file without an active key is refused too, with the
		// clients file's problems in the same report.
		g.write(g.keyPath, keysFile(keyJWK(t, k1, "k1", map[string]any{"status": "next"})))
		g.hup("failure")
		if _, body := g.readyz(); !strings.Contains(body, "PARJARM_SIGNING_KEYS_FILE") || !strings.Contains(body, "no active signing key") || !strings.Contains(body, `client "x1"`) {
			t.Errorf("readyz %q does not report both files", body)
		}
		g.write(g.clientsPath, clientsFile("app", "new"))
		g.write(g.keyPath, keysFile(keyJWK(t, k1, "k1", nil)))
		g.hup("success")
		if _, body := g.readyz(); body != "ready\n" {
			t.Errorf("readyz after a good reload: %q", body)
		}
	})

	t.Run("rotate the signing key", func(t *testing.T) {
		g := g.in(t)
		// The client's cache, fetched once before the rotation starts.
		cached, err := g.jwks()
		if err != nil {
			t.Fatal(err)
		}
		kidsOf := func(set jose.JSONWebKeySet) string {
			var k []string
			for _, key := range set.Keys {
				k = append(k, key.KeyID)
			}
			return strings.Join(k, ",")
		}
		signedBy := func(keys jose.JSONWebKeySet) string {
			t.Helper()
			status, code, ru, err := g.push("new")
			if err != nil || status != http.StatusCreated {
				t.Fatalf("push: %d %s %v", status, code, err)
			}
			status, loc, err := g.authorize("new", ru)
			if err != nil || (status != http.StatusFound && status != http.StatusSeeOther) {
				t.Fatalf("authorize: %d %v", status, err)
			}
			kid, err := verifyJARM(loc, g.public, "new", keys)
			if err != nil {
				t.Fatalf("a client with the key set %s: %v", kidsOf(keys), err)
			}
			return kid
		}

		// 1. Add k2 as next: published, not used.
		g.write(g.keyPath, keysFile(keyJWK(t, k1, "k1", nil), keyJWK(t, k2, "k2", map[string]any{"status": "next"})))
		g.hup("success")
		if set, _ := g.jwks(); kidsOf(set) != "k1,k2" {
			t.Fatalf("published %s, want k1,k2", kidsOf(set))
		}
		if kid := signedBy(cached); kid != "k1" {
			t.Fatalf("signed by %s before the promotion", kid)
		}
		// 2. The client's cache refreshes (its TTL ran out).
		cached, _ = g.jwks()
		// 3. Promote k2, retire k1 until shortly after now.
		retireAt := time.Now().Add(5 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
		g.write(g.keyPath, keysFile(keyJWK(t, k2, "k2", nil),
			keyJWK(t, k1, "k1", map[string]any{"status": "retired", "retire_after": retireAt.Format(time.RFC3339)})))
		g.hup("success")
		if kid := signedBy(cached); kid != "k2" {
			t.Fatalf("signed by %s after the promotion", kid)
		}
		if set, _ := g.jwks(); kidsOf(set) != "k2,k1" {
			t.Fatalf("published %s after the promotion, want k2,k1 (the retired key until %s)", kidsOf(set), retireAt)
		}
		// 4. After its date the retired key is no longer published,
		// without a reload.
		time.Sleep(time.Until(retireAt) + 100*time.Millisecond)
		if set, _ := g.jwks(); kidsOf(set) != "k2" {
			t.Fatalf("published %s after the retire date, want k2", kidsOf(set))
		}
		if kid := signedBy(cached); kid != "k2" {
			t.Fatalf("signed by %s", kid)
		}
	})

	stopLoad()
}

// TestReloadPollsForAConfigMapSwap: with a poll interval, the gateway
// finds the files changed by a Kubernetes-style symlink swap (the data
// directory is replaced, the files' own names stay) and reloads them; a
// poll that finds the same contents does not reload again.
func TestReloadPollsForAConfigMapSwap(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// The ConfigMap layout: clients.json -> ..data/clients.json, ..data ->
	// ..v1.
	mount := t.TempDir()
	version := func(name, clients string) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(mount, name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mount, name, "clients.json"), []byte(clients), 0o600); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(mount, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(mount, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..v1", clientsFile("app"))
	if err := os.Symlink("..data/clients.json", filepath.Join(mount, "clients.json")); err != nil {
		t.Fatal(err)
	}

	g := startReloadGateway(t, "1s", filepath.Join(mount, "clients.json"), keysFile(keyJWK(t, k1, "k1", nil)))
	// Unchanged contents: no reload.
	time.Sleep(1500 * time.Millisecond)
	if n := g.reloads("success"); n != 0 {
		t.Fatalf("%d reloads of unchanged contents", n)
	}
	version("..v2", clientsFile("app", "new"))
	g.waitReloads("success", 1)
	if _, err := g.flow("new"); err != nil {
		t.Fatalf("the client added by the swap: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := g.reloads("success"); n != 1 {
		t.Fatalf("%d reloads, want 1", n)
	}
}

// TestReloadRefusesWhatStartUpRefuses: a reloaded keys file is checked as
// at start-up and more: a kid the upstream uses, and a change of the
// algorithms discovery advertises, are refused, and the running keys stay.
func TestReloadRefusesWhatStartUpRefuses(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	upKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	listen, admin := freeAddr(t), freeAddr(t)
	public := "http://" + listen
	up := upstream(t, public, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: upKey.Public(), KeyID: "upstream-kid", Algorithm: "ES256", Use: "sig"}}})
	dir := t.TempDir()
	g := &reloadGateway{t: t, public: public, admin: admin, clientsPath: filepath.Join(dir, "clients.json"), keyPath: filepath.Join(dir, "keys.json")}
	g.write(g.clientsPath, clientsFile("app"))
	g.write(g.keyPath, keysFile(keyJWK(t, k1, "k1", nil)))
	startGateway(t, map[string]string{
		"PARJARM_UPSTREAM_URL": up.URL, "PARJARM_ISSUER": public, "PARJARM_ALLOW_INSECURE_HTTP": "true",
		"PARJARM_LISTEN_ADDR": listen, "PARJARM_ADMIN_ADDR": admin,
		"PARJARM_CLIENTS_FILE": g.clientsPath, "PARJARM_SIGNING_KEYS_FILE": g.keyPath,
		"PARJARM_DEFAULT_SIGNING_ALG": "ES256", "PARJARM_RELOAD_INTERVAL": "0",
	})
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaJWK, err := jarmKeyFile("RS256")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, keys, want string
	}{
		{"a kid of the upstream's", keysFile(keyJWK(t, k1, "k1", nil), keyJWK(t, k2, "upstream-kid", map[string]any{"status": "next"})),
			`"upstream-kid"`},
		{"another algorithm", keysFile(keyJWK(t, k1, "k1", nil), rsaJWK), "restart to change them"},
		{"not a keys file", "{", "PARJARM_SIGNING_KEYS_FILE"},
		{"a decryption key of a new algorithm", keysFile(keyJWK(t, k1, "k1", nil), encJWK(t)), "the decryption keys are for ECDH-ES, the running ones for none"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := g.in(t)
			g.write(g.keyPath, tt.keys)
			g.hup("failure")
			if status, body := g.readyz(); status != http.StatusOK || !strings.Contains(body, tt.want) {
				t.Fatalf("readyz: %d %q, want 200 mentioning %q", status, body, tt.want)
			}
			set, err := g.jwks()
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range set.Keys {
				kids = append(kids, k.KeyID)
			}
			if strings.Join(kids, ",") != "upstream-kid,k1" {
				t.Fatalf("published %v, want the running keys", kids)
			}
		})
	}
}

// encJWK is a private ECDH-ES decryption key.
func encJWK(t *testing.T) string {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, err := json.Marshal(jose.JSONWebKey{Key: k, KeyID: "enc-1", Algorithm: "ECDH-ES", Use: "enc"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jarmKeyFile is one generated key of alg as a JWK (the keys file's only
// member).
func jarmKeyFile(alg string) (string, error) {
	out, err := jarm.GenerateKeyFile(alg, "", "")
	if err != nil {
		return "", err
	}
	var f struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(out, &f); err != nil {
		return "", err
	}
	return string(f.Keys[0]), nil
}
