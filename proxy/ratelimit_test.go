package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	c := &testClock{now: time.Unix(1_700_000_000, 0)}
	l := NewLimiter(2, 3, 64, c.Now) // 2 per second, bursts of 3
	for i := range 3 {
		if ok, _ := l.Allow("192.0.2.1"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("192.0.2.1")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: %v, wait %v; want refused, 500ms", ok, wait)
	}
	if ok, _ := l.Allow("192.0.2.2"); !ok {
		t.Fatal("another address was limited")
	}
	c.Advance(500 * time.Millisecond)
	if ok, _ := l.Allow("192.0.2.1"); !ok {
		t.Fatal("a refilled token was refused")
	}
	if ok, _ := l.Allow("192.0.2.1"); ok {
		t.Fatal("the rate was exceeded")
	}
	var off *Limiter
	if ok, _ := off.Allow("192.0.2.1"); !ok {
		t.Fatal("a nil limiter refused")
	}
	if ok, _ := NewLimiter(0, 1, 64, nil).Allow("192.0.2.1"); !ok {
		t.Fatal("a zero-rate limiter refused")
	}
}

func TestLimiterWaitOfATinyRateDoesNotOverflow(t *testing.T) {
	l := NewLimiter(1e-300, 1, 64, nil)
	l.Allow("192.0.2.1")
	ok, wait := l.Allow("192.0.2.1")
	if ok || wait < 100*365*24*time.Hour {
		t.Fatalf("got %v, wait %v; want refused with a wait of over a century", ok, wait)
	}
}

// ipv4 is the i-th address of 10.0.0.0/8.
func ipv4(i int) string {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String()
}

// lruKeys lists l's buckets from the most to the least recently used.
func lruKeys(l *Limiter) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var keys []string
	for e := l.lru.Front(); e != nil; e = e.Next() {
		keys = append(keys, e.Value.(*bucket).key.String())
	}
	if len(keys) != len(l.buckets) {
		panic("the map and the list disagree")
	}
	return keys
}

// TestLimiterFullTableStillLimits: with the table full, a new address used
// to be let through unlimited (fail-open). It is limited like any other,
// at the real bound.
func TestLimiterFullTableStillLimits(t *testing.T) {
	c := &testClock{now: time.Unix(1_700_000_000, 0)}
	l := NewLimiter(1, 2, 64, c.Now)
	for i := range maxLimiterKeys {
		l.Allow(ipv4(i))
	}
	for i := range 2 {
		if ok, _ := l.Allow("192.0.2.1"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if ok, wait := l.Allow("192.0.2.1"); ok || wait != time.Second {
		t.Fatalf("over the burst with a full table: %v, wait %v; want refused, 1s", ok, wait)
	}
	if n := len(lruKeys(l)); n != maxLimiterKeys {
		t.Fatalf("%d buckets, want the bound %d", n, maxLimiterKeys)
	}
}

func TestLimiterEvictsTheLeastRecentlyUsed(t *testing.T) {
	c := &testClock{now: time.Unix(1_700_000_000, 0)}
	l := NewLimiter(1, 1, 64, c.Now)
	l.maxKeys = 3
	for _, a := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		if ok, _ := l.Allow(a); !ok {
			t.Fatalf("%s refused", a)
		}
	}
	if ok, _ := l.Allow("192.0.2.1"); ok { // .1 is now the most recently used
		t.Fatal("192.0.2.1 over its burst allowed")
	}
	if ok, _ := l.Allow("192.0.2.4"); !ok {
		t.Fatal("a new address refused its first request")
	}
	if got, want := lruKeys(l), []string{"192.0.2.4/32", "192.0.2.1/32", "192.0.2.3/32"}; !slices.Equal(got, want) {
		t.Fatalf("buckets %v, want %v (192.0.2.2, the oldest, evicted)", got, want)
	}
	if ok, _ := l.Allow("192.0.2.1"); ok {
		t.Fatal("the recently used 192.0.2.1 lost its bucket to the eviction")
	}
	if ok, _ := l.Allow("192.0.2.4"); ok {
		t.Fatal("the newcomer was not limited")
	}
}

func TestLimiterTableStaysBounded(t *testing.T) {
	c := &testClock{now: time.Unix(1_700_000_000, 0)}
	l := NewLimiter(1, 2, 64, c.Now)
	l.maxKeys = 8
	for i := range 1000 {
		l.Allow(ipv4(i))
		if n := len(lruKeys(l)); n > l.maxKeys {
			t.Fatalf("after %d addresses: %d buckets, bound %d", i+1, n, l.maxKeys)
		}
	}
	for i := range 2 {
		if ok, _ := l.Allow("192.0.2.1"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if ok, _ := l.Allow("192.0.2.1"); ok {
		t.Fatal("a new address was not limited once the table was full")
	}
}

func TestLimiterForgetsIdleAddresses(t *testing.T) {
	c := &testClock{now: time.Unix(1_700_000_000, 0)}
	l := NewLimiter(10, 1, 64, c.Now) // refills in 100ms
	for i := range 10 {
		l.Allow(ipv4(i))
	}
	c.Advance(50 * time.Millisecond)
	l.Allow("192.0.2.1")
	if n := len(lruKeys(l)); n != 11 {
		t.Fatalf("%d buckets; none had refilled, want 11", n)
	}
	c.Advance(60 * time.Millisecond) // the ten have refilled, 192.0.2.1 not
	for range 5 {
		l.Allow("192.0.2.1")
	}
	if got := lruKeys(l); !slices.Equal(got, []string{"192.0.2.1/32"}) {
		t.Fatalf("buckets %v; want only the one still refilling", got)
	}
}

func TestLimiterKey(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		v6bits int
		want   string
	}{
		{"192.0.2.1", 64, "192.0.2.1/32"},
		{"::ffff:192.0.2.1", 64, "192.0.2.1/32"},
		{"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2ff:3:4:5:6", 56, "2001:db8:1:200::/56"},
		{"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"},
		{"2001:db8:1:2:3:4:5:6", 32, "2001:db8::/32"},
		{"fe80::1%eth0", 64, "fe80::/64"},
		{"garbage", 64, "invalid Prefix"},
		{"", 64, "invalid Prefix"},
	} {
		if got := limiterKey(tc.addr, tc.v6bits).String(); got != tc.want {
			t.Errorf("limiterKey(%q, %d) = %s, want %s", tc.addr, tc.v6bits, got, tc.want)
		}
	}
}

func TestLimiterGroupsAddresses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v6bits int
		a, b   string
		shared bool
	}{
		{"two addresses in one /64 share a budget", 64, "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"addresses in different /64s do not", 64, "2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"a /56 groups those /64s together", 56, "2001:db8:1:2::1", "2001:db8:1:3::1", true},
		{"a /56 still separates other /56s", 56, "2001:db8:1:100::1", "2001:db8:1:200::1", false},
		{"a /128 separates every address", 128, "2001:db8:1:2::1", "2001:db8:1:2::2", false},
		{"IPv4-mapped IPv6 counts as the IPv4 address", 64, "::ffff:192.0.2.1", "192.0.2.1", true},
		{"IPv4 is limited per address", 64, "192.0.2.1", "192.0.2.2", false},
		{"the IPv6 prefix does not group IPv4", 32, "192.0.2.1", "192.0.2.2", false},
		{"an IPv4 address and an IPv6 address do not share", 64, "192.0.2.1", "::c000:201", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &testClock{now: time.Unix(1_700_000_000, 0)}
			l := NewLimiter(1, 1, tc.v6bits, c.Now)
			if ok, _ := l.Allow(tc.a); !ok {
				t.Fatal("the first request refused")
			}
			if ok, _ := l.Allow(tc.b); ok == tc.shared {
				t.Fatalf("second address allowed: %v; shared budget wanted: %v", ok, tc.shared)
			}
		})
	}
}

func TestNewLimiterDefaultsAnInvalidIPv6Prefix(t *testing.T) {
	for _, bits := range []int{-1, 129} {
		if got := NewLimiter(1, 1, bits, nil).v6bits; got != defaultIPv6Prefix {
			t.Errorf("NewLimiter(..., %d, ...) groups by /%d, want /%d", bits, got, defaultIPv6Prefix)
		}
	}
}

// BenchmarkLimiterAllow measures Allow for a new network each time, which
// evicts a bucket once the table is full: the cost must not grow with the
// table.
func BenchmarkLimiterAllow(b *testing.B) {
	for _, size := range []int{1_000, maxLimiterKeys} {
		b.Run(fmt.Sprintf("new address, full table of %d", size), func(b *testing.B) {
			c := &testClock{now: time.Unix(1_700_000_000, 0)}
			l := NewLimiter(1, 2, 64, c.Now)
			l.maxKeys = size
			addrs := make([]string, 4*size)
			for i := range addrs {
				addrs[i] = ipv4(i)
			}
			for i := range size {
				l.Allow(addrs[i])
			}
			i := size
			for b.Loop() {
				l.Allow(addrs[i%len(addrs)])
				i++
			}
		})
	}
}

// FuzzLimiterKey: any text, as a forwarded address could be, gives a key
// that holds the address, of 32 bits for IPv4 and the configured length
// for IPv6; Allow never panics on it.
func FuzzLimiterKey(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "::ffff:192.0.2.1", "2001:db8::1", "fe80::1%eth0", "", "garbage", "1.2.3.4:80"} {
		f.Add(s, uint8(64))
	}
	f.Fuzz(func(t *testing.T, addr string, bits uint8) {
		v6bits := int(bits) % 129
		key := limiterKey(addr, v6bits)
		a, err := netip.ParseAddr(addr)
		if err != nil {
			if key.IsValid() {
				t.Fatalf("%q is no address but keyed %s", addr, key)
			}
		} else {
			a = a.Unmap().WithZone("")
			want := 32
			if a.Is6() {
				want = v6bits
			}
			if !key.Contains(a) || key.Bits() != want || key != key.Masked() {
				t.Fatalf("%q keyed %s; want the /%d holding it", addr, key, want)
			}
		}
		NewLimiter(1, 1, v6bits, nil).Allow(addr)
	})
}

func TestRateLimitAnswers429(t *testing.T) {
	h := newHarness(t, harnessOptions{mutate: func(o *Options) {
		o.Limiter = NewLimiter(0.001, 2, 64, nil)
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

// sendFrom sends a request for client conf through the gateway as if
// forwarded for xff by the trusted proxy 127.0.0.1: a push (asJSON) or an
// authorization request.
func sendFrom(t *testing.T, h *harness, xff string, push bool) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.gw.URL+"/authorize?"+url.Values{"client_id": {"conf"}, "request_uri": {"urn:x"}}.Encode(), nil)
	if push {
		req, _ = http.NewRequest(http.MethodPost, h.gw.URL+"/par", strings.NewReader(codeFlow("s").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("conf", url.QueryEscape(confSecret))
	}
	req.Header.Set("X-Forwarded-For", xff)
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// wantLimited checks a 429 with Retry-After and invalid_request (RFC 9126,
// section 2.3), as JSON from the PAR endpoint or as a page.
func wantLimited(t *testing.T, resp *http.Response, push bool) {
	t.Helper()
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if !push {
		wantErrorPage(t, resp, http.StatusTooManyRequests, "invalid_request")
		return
	}
	if status, code := jsonError(t, resp); status != http.StatusTooManyRequests || code != "invalid_request" {
		t.Fatalf("got %d %q, want 429 invalid_request", status, code)
	}
}

func wantNotLimited(t *testing.T, resp *http.Response) {
	t.Helper()
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		t.Fatal("limited")
	}
}

func TestRateLimitThroughTheGateway(t *testing.T) {
	newGateway := func(t *testing.T, v6bits, maxKeys int) *harness {
		l := NewLimiter(0.001, 2, v6bits, nil)
		l.maxKeys = maxKeys
		return newHarness(t, harnessOptions{mutate: func(o *Options) {
			o.Limiter = l
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		}})
	}
	t.Run("with the table full a new address is still limited", func(t *testing.T) {
		h := newGateway(t, 64, 4)
		for i := range 10 { // more addresses than the table holds
			wantNotLimited(t, sendFrom(t, h, ipv4(i), false))
		}
		wantNotLimited(t, sendFrom(t, h, "203.0.113.9", true))
		wantNotLimited(t, sendFrom(t, h, "203.0.113.9", true))
		wantLimited(t, sendFrom(t, h, "203.0.113.9", true), true)
		wantLimited(t, sendFrom(t, h, "203.0.113.9", false), false)
		if n := len(lruKeys(h.gateway.limiter)); n != 4 {
			t.Fatalf("%d buckets, want the bound 4", n)
		}
	})
	type step struct {
		xff     string
		limited bool
	}
	for _, tc := range []struct {
		name   string
		v6bits int
		push   bool // at the PAR endpoint, else the authorization endpoint
		steps  []step
	}{
		{"two addresses in one /64 share a budget, another /64 has its own", 64, false, []step{
			{"2001:db8:1:2::a", false}, {"2001:db8:1:2::b", false}, {"2001:db8:1:2:ffff:ffff:ffff:ffff", true}, {"2001:db8:1:3::a", false},
		}},
		{"a /56 groups the /64s inside it", 56, true, []step{
			{"2001:db8:1:2::a", false}, {"2001:db8:1:3::a", false}, {"2001:db8:1:ff::a", true}, {"2001:db8:1:100::a", false},
		}},
		{"an IPv4-mapped address counts as the IPv4 address", 64, false, []step{
			{"::ffff:198.51.100.7", false}, {"198.51.100.7", false}, {"::ffff:198.51.100.7", true}, {"198.51.100.8", false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newGateway(t, tc.v6bits, maxLimiterKeys)
			for _, st := range tc.steps {
				resp := sendFrom(t, h, st.xff, tc.push)
				if st.limited {
					wantLimited(t, resp, tc.push)
				} else {
					wantNotLimited(t, resp)
				}
			}
		})
	}
}
