package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	c := &testClock{now: time.Unix(1_700_000_000, 0)}
	l := NewLimiter(2, 3, c.Now) // 2 per second, bursts of 3
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: %v, wait %v; want refused, 500ms", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another address was limited")
	}
	c.Advance(500 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("a refilled token was refused")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("the rate was exceeded")
	}
	var off *Limiter
	if ok, _ := off.Allow("a"); !ok {
		t.Fatal("a nil limiter refused")
	}
	if ok, _ := NewLimiter(0, 1, nil).Allow("a"); !ok {
		t.Fatal("a zero-rate limiter refused")
	}
}

func TestLimiterForgetsIdleAddresses(t *testing.T) {
	c := &testClock{now: time.Unix(1_700_000_000, 0)}
	l := NewLimiter(10, 1, c.Now)
	for i := range maxLimiterKeys {
		l.Allow("addr-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String())
	}
	c.Advance(time.Second)
	l.Allow("newcomer")
	if len(l.buckets) > 2 {
		t.Fatalf("%d buckets kept after a sweep", len(l.buckets))
	}
}

func TestRateLimitAnswers429(t *testing.T) {
	h := newHarness(t, harnessOptions{mutate: func(o *Options) {
		o.Limiter = NewLimiter(0.001, 2, nil)
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}})
	t.Run("at the PAR endpoint as JSON with Retry-After", func(t *testing.T) {
		h.mustPush("conf", codeFlow("s"))
		h.mustPush("conf", codeFlow("s"))
		resp := h.push("conf", codeFlow("s"))
		if retry := resp.Header.Get("Retry-After"); retry == "" {
			t.Fatal("no Retry-After")
		}
		status, code := jsonError(t, resp)
		if status != http.StatusTooManyRequests || code != "invalid_request" {
			t.Fatalf("got %d %q", status, code)
		}
	})
	t.Run("at the authorization endpoint as a page", func(t *testing.T) {
		wantErrorPage(t, h.get("/authorize?client_id=conf"), http.StatusTooManyRequests, "invalid_request")
	})
	t.Run("behind a trusted proxy each forwarded client has its own budget", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, h.gw.URL+"/authorize?"+url.Values{"client_id": {"conf"}, "request_uri": {"urn:x"}}.Encode(), nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		resp, err := h.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			t.Fatal("a forwarded client shared the proxy's budget")
		}
	})
	t.Run("other traffic is not limited", func(t *testing.T) {
		resp := h.get("/echo")
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestClientAddr(t *testing.T) {
	g := &Gateway{opts: Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	for _, tc := range []struct{ remote, xff, want string }{
		{"203.0.113.1:5000", "198.51.100.1", "203.0.113.1"},
		{"10.0.0.5:5000", "198.51.100.1", "198.51.100.1"},
		{"10.0.0.5:5000", "198.51.100.1, 10.0.0.9", "198.51.100.1"},
		{"10.0.0.5:5000", "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"},
		{"10.0.0.5:5000", "", "10.0.0.5"},
		{"10.0.0.5:5000", "garbage", "10.0.0.5"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := g.clientAddr(r); got != tc.want {
			t.Errorf("remote %s, XFF %q: got %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}
