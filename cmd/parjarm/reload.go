package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/config"
	"github.com/parjarm/parjarm/jarm"
	"github.com/parjarm/parjarm/metrics"
	"github.com/parjarm/parjarm/proxy"
)

// reloader reloads the client registry and the signing keys without a
// restart, on SIGHUP and when a poll finds a file's content changed (a
// Kubernetes ConfigMap or Secret changes by a symlink swap, which only the
// content shows). Both files are loaded and checked together as at
// start-up; then both new values are swapped in, or, when anything does not
// validate, neither: the running set stays, every problem is logged and
// counted, and /readyz shows the failure without failing readiness.
type reloader struct {
	cfg     *config.Config
	log     *zap.Logger
	m       *metrics.Metrics
	clients *client.Swappable
	keys    *jarm.Keys
	// encoder checks new keys against the algorithms in use; nil without
	// JARM.
	encoder *jarm.Encoder
	// upstreamKeys reads the upstream's key set, whose kids the gateway's
	// must not reuse; nil in tests without an upstream.
	upstreamKeys func(context.Context) (*proxy.RawKeySet, error)

	mu   sync.Mutex // one reload at a time; guards seen and lastErr
	seen [sha256.Size]byte
	// lastErr is the last failed reload, cleared by a successful one.
	lastErr   error
	lastErrAt time.Time
}

// fingerprint is a digest of the files' contents (a missing file counts
// as its error), for the poll to see a change.
func (r *reloader) fingerprint() [sha256.Size]byte {
	h := sha256.New()
	for _, p := range []string{r.cfg.ClientsFile, r.cfg.SigningKeysFile} {
		if p == "" {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			data = []byte("error: " + err.Error())
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(data))
		h.Write(data)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// loaded records the files' contents the running set came from (taken
// before start-up loaded them, so that a change during start-up is reloaded).
func (r *reloader) loaded(fp [sha256.Size]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = fp
	r.m.ConfigReloads.WithLabelValues("success")
	r.m.ConfigReloads.WithLabelValues("failure")
	r.m.ConfigReloadSuccess.SetToCurrentTime()
}

// run reloads on every signal from hup and, with an interval, whenever the
// files' contents changed since the last attempt, until ctx ends.
func (r *reloader) run(ctx context.Context, hup <-chan os.Signal, interval time.Duration) {
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.log.Info("SIGHUP: reloading the clients and signing keys")
			r.reload(ctx, true)
		case <-tick:
			r.reload(ctx, false)
		}
	}
}

// reload loads both files and swaps them in, or keeps the running set. A
// poll (force false) does nothing when the contents are those of the last
// attempt, so a broken file is reported once, not at every tick.
func (r *reloader) reload(ctx context.Context, force bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fp := r.fingerprint()
	if !force && fp == r.seen {
		return
	}
	r.seen = fp
	reg, ks, err := r.build(ctx)
	if err != nil {
		r.lastErr, r.lastErrAt = err, time.Now()
		r.m.ConfigReloads.WithLabelValues("failure").Inc()
		r.log.Error("reload failed: the running clients and signing keys stay in use",
			zap.Strings("problems", problemLines(err)))
		return
	}
	// Two swaps, not one instant: a request between them pairs the new
	// keys with the old clients. Each is a whole checked value and the
	// algorithms are unchanged (checkKeys), so every pairing is valid.
	if ks != nil {
		r.keys.Store(ks)
	}
	r.clients.Store(reg)
	r.lastErr = nil
	r.m.ConfigReloads.WithLabelValues("success").Inc()
	r.m.ConfigReloadSuccess.SetToCurrentTime()
	fields := []zap.Field{zap.Int("clients", reg.Len())}
	if ks != nil {
		fields = append(fields, zap.Strings("signing_keys", keyStatuses(ks)))
	}
	r.log.Info("reloaded the clients and signing keys", fields...)
}

// build loads and checks both files as start-up does (loadClients,
// loadKeys), plus: the new keys sign the algorithms discovery advertises,
// and their kids clash with none of the upstream's. Every problem of both
// files is returned at once. ks is nil without a keys file (ephemeral
// development keys are never replaced).
func (r *reloader) build(ctx context.Context) (*client.Registry, *jarm.KeySet, error) {
	var errs []error
	reg, err := loadClients(r.cfg)
	if err != nil {
		errs = append(errs, err)
	}
	var ks *jarm.KeySet
	if r.cfg.SigningKeysFile != "" {
		if ks, err = loadKeys(r.cfg, r.log); err != nil {
			errs = append(errs, err)
		}
	}
	if ks != nil {
		if err := r.checkKeys(ctx, ks); err != nil {
			errs = append(errs, fmt.Errorf("PARJARM_SIGNING_KEYS_FILE: %w", err))
		}
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return reg, ks, nil
}

// checkKeys applies to new keys what start-up checks: the encoder's
// algorithms, the decryption keys' algorithms unchanged, and no kid of the
// upstream's. An upstream that does not answer
// is not held against the keys (start-up only warns, too).
func (r *reloader) checkKeys(ctx context.Context, ks *jarm.KeySet) error {
	var errs []error
	if r.encoder != nil {
		if err := r.encoder.CheckKeys(ks); err != nil {
			errs = append(errs, err)
		}
	}
	// Discovery advertises the decryption keys' algorithms
	// (request_object_encryption_alg_values_supported) from start-up.
	if now, next := r.keys.Load().EncryptionAlgorithms(), ks.EncryptionAlgorithms(); !slices.Equal(now, next) {
		errs = append(errs, fmt.Errorf("the decryption keys are for %s, the running ones for %s: a reload keeps the algorithms discovery advertises; restart to change them",
			algList(next), algList(now)))
	}
	if r.upstreamKeys != nil {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		up, err := r.upstreamKeys(ctx)
		if err != nil {
			r.log.Warn("reload: cannot read the upstream's key set to compare kids", zap.Error(err))
		} else if _, err := proxy.MergeKeys(up, ks.Public()); err != nil {
			errs = append(errs, fmt.Errorf("%w: give the gateway's keys other kids", err))
		}
	}
	return errors.Join(errs...)
}

// status is the /readyz detail: the last failed reload, or "".
func (r *reloader) status() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastErr == nil {
		return ""
	}
	return fmt.Sprintf("config reload failed at %s; the previous clients and signing keys stay in use: %s",
		r.lastErrAt.UTC().Format(time.RFC3339), strings.Join(problemLines(r.lastErr), "; "))
}

// problemLines splits an error (an errors.Join of every problem) into its
// lines.
func problemLines(err error) []string {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// keyStatuses lists the signing keys as "kid (status)", for the log.
func keyStatuses(ks *jarm.KeySet) []string {
	var out []string
	for _, kid := range ks.KIDs() {
		st, _ := ks.Status(kid)
		out = append(out, kid+" ("+st+")")
	}
	return out
}

// algList names JWE key management algorithms, or "none".
func algList(algs []jose.KeyAlgorithm) string {
	if len(algs) == 0 {
		return "none"
	}
	names := make([]string, len(algs))
	for i, a := range algs {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}
