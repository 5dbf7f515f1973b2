package proxy

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parjarm/parjarm/oauth"
)

// maxLimiterKeys bounds the addresses the limiter remembers.
const maxLimiterKeys = 100_000

// Limiter is a token bucket per client address: rate requests per second,
// up to burst at once. A nil Limiter, or one with a rate of 0, allows
// everything.
type Limiter struct {
	rate, burst float64
	now         func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter of rate requests per second and burst; now
// is the clock (nil: time.Now).
func NewLimiter(rate float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate, burst: float64(max(burst, 1)), now: now, buckets: map[string]*bucket{}}
}

// Allow takes one token for key. It reports whether the request may go on
// and, if not, how long until it may.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxLimiterKeys {
			l.sweep(now)
		}
		if len(l.buckets) >= maxLimiterKeys {
			// Too many addresses to track: let the request go rather than
			// refuse users who never sent one.
			return true, 0
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// sweep forgets the addresses whose buckets have refilled: they would
// start full anyway.
func (l *Limiter) sweep(now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
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
