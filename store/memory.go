package store

import (
	"container/list"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Defaults of MemoryOptions.
const (
	DefaultMaxEntries    = 100000
	DefaultSweepInterval = time.Minute
)

// MemoryOptions configures NewMemory.
type MemoryOptions struct {
	// MaxEntries bounds how many entries the store holds, expired ones not
	// yet swept included. Zero or less means DefaultMaxEntries. Each entry
	// costs its key, its value and about 100 bytes of bookkeeping.
	MaxEntries int
	// Now is the clock that decides expiry. Nil means time.Now.
	Now func() time.Time
	// SweepInterval is how often the background janitor removes expired
	// entries. Zero or less means DefaultSweepInterval.
	SweepInterval time.Duration
}

// Memory is the embedded Store for a single gateway instance: a bounded map
// with expiry. It does not share state between replicas; use Redis for
// those.
//
// Expired entries are invisible at once and their memory is reclaimed by a
// janitor goroutine (stopped by Close) and whenever a write finds the store
// full. A write that still finds no room evicts the oldest unredeemed pushed
// request: an entry of namespace NSRequestURI that has never been read. Its
// request_uri then answers invalid_request_uri, as if it had expired early;
// nothing it guards becomes usable again (RFC 9126, section 7.3: a request_uri
// is used at most once, and an unknown one is refused). A flood of pushes
// that are never redeemed therefore displaces only older such pushes, and
// never refuses other clients' writes. Every other entry is kept: evicting a
// jti replay mark (RFC 7523, section 3, item 7), a transaction or a pushed
// request already being redeemed (read at the authorization endpoint, taken
// when its flow completes) would let a replay in or break a flow midway. With
// no unredeemed pushed request left to evict, the write fails with
// ErrUnavailable.
type Memory struct {
	now        func() time.Time
	maxEntries int

	mu      sync.Mutex
	entries map[string]memoryEntry
	// unredeemed holds the keys of the pushed requests never read, oldest
	// first: the only entries a full store evicts.
	unredeemed *list.List
	evicted    uint64
	// nextExpiry is at or before the expiry of every entry held; a sweep
	// before it would find nothing, so a full store refuses in O(1).
	nextExpiry time.Time
	closed     bool

	stop chan struct{}
	done chan struct{}
}

type memoryEntry struct {
	value   []byte
	expires time.Time
	// unredeemed is the entry's element in Memory.unredeemed, or nil when
	// it may not be evicted.
	unredeemed *list.Element
}

// evictablePrefix starts the keys of pushed requests (see Key).
const evictablePrefix = "parjarm:" + NSRequestURI + ":"

// NewMemory returns an empty Memory store and starts its janitor.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	m := &Memory{
		now:        opts.Now,
		maxEntries: opts.MaxEntries,
		entries:    make(map[string]memoryEntry),
		unredeemed: list.New(),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	go m.janitor(opts.SweepInterval)
	return m
}

// Put stores a copy of value under key for ttl, replacing any earlier value.
func (m *Memory) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkTTL(ttl); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if err := m.reserveLocked(key, now); err != nil {
		return err
	}
	m.insertLocked(key, value, now.Add(ttl))
	return nil
}

// Get returns a copy of the value stored under key, or ErrNotFound.
func (m *Memory) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errMemoryClosed
	}
	e, ok := m.liveLocked(key, m.now())
	if !ok {
		return nil, ErrNotFound
	}
	if e.unredeemed != nil {
		// A pushed request read at the authorization endpoint is being
		// redeemed: its flow needs it until it completes.
		m.unredeemed.Remove(e.unredeemed)
		e.unredeemed = nil
		m.entries[key] = e
	}
	return clone(e.value), nil
}

// Take atomically returns and deletes the value under key, or returns
// ErrNotFound. Of concurrent Takes of one key exactly one gets the value,
// which is what makes a request_uri single use (RFC 9126, section 7.3).
func (m *Memory) Take(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errMemoryClosed
	}
	e, ok := m.liveLocked(key, m.now())
	if !ok {
		return nil, ErrNotFound
	}
	m.deleteLocked(key, e)
	// The value was copied in by the write and nobody else holds it.
	return e.value, nil
}

// PutAll stores a copy of every entry, as Put does, under one lock.
func (m *Memory) PutAll(_ context.Context, entries []Entry) error {
	if err := checkEntries(entries); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for _, e := range entries {
		if err := m.reserveLocked(e.Key, now); err != nil {
			return err
		}
		m.insertLocked(e.Key, entryValue(e), now.Add(e.TTL))
	}
	return nil
}

// TakeLinked atomically returns and deletes the value under key and every
// key it links to, or returns ErrNotFound.
func (m *Memory) TakeLinked(_ context.Context, key string) ([]byte, map[string][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, nil, errMemoryClosed
	}
	now := m.now()
	e, ok := m.liveLocked(key, now)
	if !ok {
		return nil, nil, ErrNotFound
	}
	m.deleteLocked(key, e)
	links, value := Unlink(e.value)
	linked := make(map[string][]byte, len(links))
	for _, k := range links {
		if le, ok := m.liveLocked(k, now); ok {
			m.deleteLocked(k, le)
			linked[k] = le.value
		}
	}
	return value, linked, nil
}

// PutIfAbsentThen stores mark unless a live entry exists under its key,
// and then every entry of then, under one lock.
func (m *Memory) PutIfAbsentThen(_ context.Context, mark Entry, then []Entry) (bool, error) {
	if err := checkEntries(append([]Entry{mark}, then...)); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.closed {
		return false, errMemoryClosed
	}
	if _, ok := m.liveLocked(mark.Key, now); ok {
		return false, nil
	}
	for _, e := range append([]Entry{mark}, then...) {
		if err := m.reserveLocked(e.Key, now); err != nil {
			return false, err
		}
		m.insertLocked(e.Key, entryValue(e), now.Add(e.TTL))
	}
	return true, nil
}

// PutIfAbsent stores a copy of value under key for ttl unless a live entry
// exists there; it reports whether it stored it.
func (m *Memory) PutIfAbsent(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.closed {
		return false, errMemoryClosed
	}
	if _, ok := m.liveLocked(key, now); ok {
		return false, nil
	}
	if err := m.reserveLocked(key, now); err != nil {
		return false, err
	}
	m.insertLocked(key, value, now.Add(ttl))
	return true, nil
}

// Ping reports ErrUnavailable once the store is closed.
func (m *Memory) Ping(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errMemoryClosed
	}
	return nil
}

// Close stops the janitor and drops every entry; later calls fail with
// ErrUnavailable. Closing twice does nothing.
func (m *Memory) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.entries = nil
	m.unredeemed.Init()
	m.mu.Unlock()
	close(m.stop)
	<-m.done
	return nil
}

// Len returns the number of entries held, expired ones not yet swept
// included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// Evicted returns how many unredeemed pushed requests a full store has
// evicted to make room.
func (m *Memory) Evicted() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.evicted
}

var errMemoryClosed = fmt.Errorf("%w: memory store closed", ErrUnavailable)

// liveLocked returns the entry under key if it has not expired at now. An
// expired entry is deleted on the way.
func (m *Memory) liveLocked(key string, now time.Time) (memoryEntry, bool) {
	e, ok := m.entries[key]
	if !ok {
		return memoryEntry{}, false
	}
	if !now.Before(e.expires) {
		m.deleteLocked(key, e)
		return memoryEntry{}, false
	}
	return e, true
}

// deleteLocked removes the entry e held under key.
func (m *Memory) deleteLocked(key string, e memoryEntry) {
	if e.unredeemed != nil {
		m.unredeemed.Remove(e.unredeemed)
	}
	delete(m.entries, key)
}

// reserveLocked makes sure a write of key has room: replacing an entry
// always has; a new key may need expired entries swept first, and then the
// oldest unredeemed pushed request evicted. No other live entry is ever
// evicted.
func (m *Memory) reserveLocked(key string, now time.Time) error {
	if m.closed {
		return errMemoryClosed
	}
	if _, ok := m.entries[key]; ok || len(m.entries) < m.maxEntries {
		return nil
	}
	if !now.Before(m.nextExpiry) {
		m.sweepLocked(now)
	}
	if len(m.entries) < m.maxEntries {
		return nil
	}
	if oldest := m.unredeemed.Front(); oldest != nil {
		k := oldest.Value.(string)
		m.deleteLocked(k, m.entries[k])
		m.evicted++
		return nil
	}
	return fmt.Errorf("%w: memory store full (%d live entries, none evictable)", ErrUnavailable, m.maxEntries)
}

// insertLocked stores a copy of value under key until expires, replacing
// any entry there. A pushed request starts unredeemed, as the newest.
func (m *Memory) insertLocked(key string, value []byte, expires time.Time) {
	if len(m.entries) == 0 || expires.Before(m.nextExpiry) {
		m.nextExpiry = expires
	}
	if old, ok := m.entries[key]; ok && old.unredeemed != nil {
		m.unredeemed.Remove(old.unredeemed)
	}
	e := memoryEntry{value: clone(value), expires: expires}
	if strings.HasPrefix(key, evictablePrefix) {
		e.unredeemed = m.unredeemed.PushBack(key)
	}
	m.entries[key] = e
}

// sweepLocked deletes every entry expired at now and recomputes nextExpiry.
func (m *Memory) sweepLocked(now time.Time) {
	var next time.Time
	for k, e := range m.entries {
		if !now.Before(e.expires) {
			m.deleteLocked(k, e)
			continue
		}
		if next.IsZero() || e.expires.Before(next) {
			next = e.expires
		}
	}
	m.nextExpiry = next
}

// janitor sweeps expired entries every interval until Close.
func (m *Memory) janitor(interval time.Duration) {
	defer close(m.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
			m.mu.Lock()
			if now := m.now(); !m.closed && len(m.entries) > 0 && !now.Before(m.nextExpiry) {
				m.sweepLocked(now)
			}
			m.mu.Unlock()
		}
	}
}

// clone copies b, turning nil into an empty value: an empty value is a
// value, not an absence.
func clone(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

var _ Store = (*Memory)(nil)
