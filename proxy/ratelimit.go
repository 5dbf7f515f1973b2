package proxy

import (
	"container/list"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parjarm/parjarm/oauth"
)

// maxLimiterKeys bounds the buckets a limiter keeps (about 150 bytes each).
const maxLimiterKeys = 100_000

// defaultIPv6Prefix is the IPv6 network length that shares one bucket when
// NewLimiter is given no valid one: a /64 is what one site (one home, one
// LAN) is usually given, and a host picks its address inside it freely.
const defaultIPv6Prefix = 64

// idleDropsPerAllow is how many refilled buckets one Allow may forget, so
// the table shrinks when traffic calms down without any request doing more
// than constant work.
const idleDropsPerAllow = 2

// Limiter is a token bucket per client network: rate requests per second,
// up to burst at once. An IPv4 address has a bucket of its own; IPv6
// addresses share one per network of the configured prefix length, since
// one site holds a whole /64 (2^64 addresses). A nil Limiter, or one with a
// rate of 0, allows everything.
//
// The limiter remembers at most maxLimiterKeys buckets. When a new network
// arrives and the table is full, the least recently used bucket is
// forgotten, so every network is always limited and each request does O(1)
// work. The trade-off: a sender spraying from more networks than the table
// holds makes buckets short-lived, so a quiet client's bucket (or the
// sender's own) can be forgotten and start again with a full burst. Each
// network is still held to its burst while its bucket lives; what no
// per-network limit can bound is the sum over that many networks.
type Limiter struct {
	rate, burst float64
	v6bits      int
	now         func() time.Time

	mu      sync.Mutex
	maxKeys int                            // the bound; maxLimiterKeys but in tests
	buckets map[netip.Prefix]*list.Element // of *bucket, in lru
	lru     *list.List                     // front: the most recently used
}

type bucket struct {
	key    netip.Prefix
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter of rate requests per second and burst, which
// groups IPv6 addresses by their first ipv6Prefix bits (outside 0 to 128:
// 64); now is the clock (nil: time.Now).
func NewLimiter(rate float64, burst, ipv6Prefix int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	if ipv6Prefix < 0 || ipv6Prefix > 128 {
		ipv6Prefix = defaultIPv6Prefix
	}
	return &Limiter{
		rate: rate, burst: float64(max(burst, 1)), v6bits: ipv6Prefix, now: now,
		maxKeys: maxLimiterKeys, buckets: map[netip.Prefix]*list.Element{}, lru: list.New(),
	}
}

// maxWait caps the wait Allow reports, so a tiny rate cannot overflow a
// time.Duration (about 146 years).
const maxWait = float64(1 << 62)

// Allow takes one token from the bucket of addr (an IP address as text, see
// limiterKey). It reports whether the request may go on and, if not, how
// long until it may.
func (l *Limiter) Allow(addr string) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	key := limiterKey(addr, l.v6bits)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetIdle(now)
	var b *bucket
	if e, ok := l.buckets[key]; ok {
		l.lru.MoveToFront(e)
		b = e.Value.(*bucket)
		b.tokens = math.Min(l.burst, b.tokens+max(0, now.Sub(b.last).Seconds())*l.rate)
	} else if l.lru.Len() >= l.maxKeys {
		// Full: the least recently used bucket makes room, reused in place.
		e := l.lru.Back()
		b = e.Value.(*bucket)
		delete(l.buckets, b.key)
		*b = bucket{key: key, tokens: l.burst}
		l.buckets[key] = e
		l.lru.MoveToFront(e)
	} else {
		b = &bucket{key: key, tokens: l.burst}
		l.buckets[key] = l.lru.PushFront(b)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration(math.Min(maxWait, (1-b.tokens)/l.rate*float64(time.Second)))
}

// forgetIdle drops up to idleDropsPerAllow of the least recently used
// buckets that have refilled: they would start full anyway. The list is in
// order of last use, so the first one still refilling ends the walk.
func (l *Limiter) forgetIdle(now time.Time) {
	for range idleDropsPerAllow {
		e := l.lru.Back()
		if e == nil {
			return
		}
		b := e.Value.(*bucket)
		if now.Sub(b.last).Seconds()*l.rate < l.burst {
			return
		}
		delete(l.buckets, b.key)
		l.lru.Remove(e)
	}
}

// limiterKey is the network addr is limited as: an IPv4 address alone (a
// /32, also when written IPv4-mapped, ::ffff:192.0.2.1), an IPv6 address
// with the rest of its /v6bits network (zone dropped). Text that is no IP
// address, which only a peer that is not on IP gives, is the zero Prefix:
// all such peers share one bucket.
func limiterKey(addr string, v6bits int) netip.Prefix {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = v6bits
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// clientAddr is the address a request is limited by: the peer's, or,
// behind trusted proxies, the last X-Forwarded-For hop that is not one of
// them.
func (g *Gateway) clientAddr(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	addr := peer.Addr().Unmap()
	if !g.trusted(r.RemoteAddr) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		addr = hop.Unmap()
		if !g.trustedAddr(addr) {
			break
		}
	}
	return addr.String()
}

// limited answers 429 (RFC 9126, section 2.3) when r's address is over its
// rate, as JSON at the PAR endpoint and as a page elsewhere, and reports
// whether it did.
func (g *Gateway) limited(w http.ResponseWriter, r *http.Request, asJSON bool) bool {
	ok, wait := g.limiter.Allow(g.clientAddr(r))
	if ok {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	if asJSON {
		g.m.Pushes.WithLabelValues("rate_limited").Inc()
		g.m.Errors.WithLabelValues(oauth.ErrTooManyRequests.Code).Inc()
		oauth.WriteJSON(w, oauth.ErrTooManyRequests)
		return true
	}
	g.writePage(w, r, oauth.ErrTooManyRequests)
	return true
}
