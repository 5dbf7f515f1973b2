package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/parjarm/parjarm/client"
	"github.com/parjarm/parjarm/codebind"
	"github.com/parjarm/parjarm/config"
	"github.com/parjarm/parjarm/errpage"
	"github.com/parjarm/parjarm/flow"
	"github.com/parjarm/parjarm/jarm"
	"github.com/parjarm/parjarm/metrics"
	"github.com/parjarm/parjarm/par"
	"github.com/parjarm/parjarm/proxy"
	"github.com/parjarm/parjarm/store"
	"github.com/parjarm/parjarm/tlsauth"
	"github.com/parjarm/parjarm/tracing"
)

// run wires the gateway in order — configuration, logger, store, clients,
// keys, upstream metadata, handlers, servers — and serves until ctx ends.
func run(ctx context.Context, args []string, environ map[string]string, stdout io.Writer) error {
	cmd := ""
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "", "serve", "check":
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "parjarm", version)
		return nil
	case "health":
		return health(ctx, environ)
	case "keys":
		return keysCommand(args[1:], stdout, stdout)
	default:
		return fmt.Errorf("unknown command %q (commands: serve, check, health, keys, version)", cmd)
	}

	cfg, err := config.Load(environ)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	otelCfg, err := parseOTel(environ)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	log, err := newLogger(cfg, stdout)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	rl := &reloader{cfg: cfg, log: log.Named("reload")}
	// The contents the running set comes from, read before it is loaded.
	loadedFrom := rl.fingerprint()
	reg, err := loadClients(cfg)
	if err != nil {
		return err
	}
	keys, err := loadKeys(cfg, log)
	if err != nil {
		return err
	}
	pages, err := loadPages(cfg)
	if err != nil {
		return err
	}
	serverCerts, clientCAs, err := loadTLS(cfg, log)
	if err != nil {
		return err
	}
	if cmd == "check" {
		if cfg.Issuer != nil {
			// The issuer is known without the upstream: check where the
			// gateway's endpoints go (the upstream's are checked at start).
			public := cfg.PublicURL
			if public == nil {
				public = cfg.Issuer
			}
			var up []proxy.UpstreamEndpoint
			if cfg.AuthorizationPath != "" {
				up = append(up, proxy.UpstreamEndpoint{Name: "authorization_endpoint", Path: cfg.AuthorizationPath})
			}
			if _, err := proxy.NewEndpoints(endpointsConfig(cfg, cfg.Issuer.String(), public, up)); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "configuration OK: %d clients, signing keys %s, store %s\n", reg.Len(), strings.Join(keyStatuses(keys), ", "), cfg.StoreKind())
		return nil
	}
	log.Info("starting parjarm", zap.String("version", version), zap.Any("config", cfg.Redacted()))

	redis.SetLogger(store.RedisLog{L: log.Named("redis")})
	st, err := openStore(cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()

	// Tracing (the standard OTEL_* variables): off, and nothing installed,
	// unless an exporter is configured; flushed when the servers stop.
	tp, stopTracing, err := setupTracing(ctx, otelCfg, version, log.Named("tracing"))
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if err := stopTracing(sctx); err != nil {
			log.Warn("flushing the last traces failed", zap.Error(err))
		}
	}()
	tracer := tracing.Tracer(tp)
	st = store.Traced(st, tracer)
	if tp != nil {
		log.Info("tracing on", zap.String("protocol", otelCfg.Protocol), zap.String("endpoint", redactedURL(otelCfg.EndpointURL)), zap.String("service_name", otelCfg.ServiceName))
	}

	transport := proxy.Transport(cfg.UpstreamDialTimeout, cfg.UpstreamTimeout)
	upstreamClient := &http.Client{Transport: tracing.Transport(transport, tracer), Timeout: cfg.UpstreamTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	newDiscovery := func(base *url.URL, issuer string) *proxy.Discovery {
		return proxy.NewDiscovery(base, discoveryPath(issuer), upstreamClient, cfg.DiscoveryCacheTTL)
	}
	// Without PARJARM_ISSUER the upstream URL is taken to name the issuer on
	// the upstream: its discovery document is read below it.
	upstreamBase, disc := cfg.UpstreamURL, newDiscovery(cfg.UpstreamURL, "")
	if cfg.Issuer != nil {
		upstreamBase = proxy.UpstreamBase(cfg.UpstreamURL, cfg.Issuer.String())
		disc = newDiscovery(upstreamBase, cfg.Issuer.String())
	}
	startCtx, cancel := context.WithTimeout(ctx, cfg.StartupTimeout)
	defer cancel()
	meta, err := disc.WaitMetadata(startCtx, time.Second)
	if err != nil {
		return fmt.Errorf("PARJARM_UPSTREAM_URL: cannot read the upstream's discovery document within PARJARM_STARTUP_TIMEOUT (%s): %w; for an issuer with a path, set PARJARM_ISSUER or end PARJARM_UPSTREAM_URL with the issuer's path", cfg.StartupTimeout, err)
	}
	resolved, err := cfg.Resolve(meta.Issuer)
	if err != nil {
		return err
	}
	issuer := resolved.Issuer
	if cfg.Issuer == nil {
		if b := proxy.UpstreamBase(cfg.UpstreamURL, issuer); b != upstreamBase {
			// The upstream URL ends with the issuer's path: read the same
			// document, with the paths of the issuer's URLs, from the host.
			upstreamBase, disc = b, newDiscovery(b, issuer)
		}
	}
	publicURL := strings.TrimSuffix(resolved.PublicURL.String(), "/")
	if cfg.UpstreamPreserveHost {
		// Read the upstream's metadata again as a client would see it
		// through the gateway: with the public host.
		disc.SetPublic(resolved.PublicURL)
		if meta, err = disc.WaitMetadata(startCtx, time.Second); err != nil {
			return fmt.Errorf("PARJARM_UPSTREAM_URL: cannot read the upstream's discovery document: %w", err)
		}
	}
	authzPath := cfg.AuthorizationPath
	if authzPath == "" {
		// The path clients reach it at through the gateway, also when the
		// upstream names its own address.
		u, err := url.Parse(proxy.PublicEndpoint(upstreamBase, publicURL, meta.AuthorizationEndpoint))
		if err != nil || u.Path == "" {
			return fmt.Errorf("upstream discovery authorization_endpoint %q has no path: set PARJARM_AUTHORIZATION_PATH", meta.AuthorizationEndpoint)
		}
		authzPath = u.Path
	}
	var tokenPath string
	pkceEnforced := cfg.TokenEndpointPKCE.Enforced(meta.CodeChallengeMethods)
	if pkceEnforced {
		if tokenPath, err = tokenEndpointPath(upstreamBase, publicURL, meta.TokenEndpoint); err != nil {
			return fmt.Errorf("PARJARM_TOKEN_ENDPOINT_PKCE=%s: %w; or set PARJARM_TOKEN_ENDPOINT_PKCE=off", cfg.TokenEndpointPKCE, err)
		}
	}
	upDoc, err := disc.Document(startCtx)
	if err != nil {
		return fmt.Errorf("PARJARM_UPSTREAM_URL: cannot read the upstream's discovery document: %w", err)
	}
	upEndpoints := []proxy.UpstreamEndpoint{{Name: "authorization_endpoint", Path: authzPath}}
	for _, e := range proxy.UpstreamEndpoints(upDoc, upstreamBase, publicURL, issuer) {
		if e.Name != "authorization_endpoint" {
			upEndpoints = append(upEndpoints, e)
		}
	}
	endpoints, err := proxy.NewEndpoints(endpointsConfig(cfg, issuer, resolved.PublicURL, upEndpoints))
	if err != nil {
		return err
	}
	parEndpoint := endpoints.URL(proxy.EndpointPAR)
	upKeys, err := disc.UpstreamKeys(startCtx)
	if err != nil {
		log.Warn("cannot read the upstream's key set at start-up; it is merged in when it answers", zap.Error(err))
	} else if _, err := proxy.MergeKeys(upKeys, keys.Public()); err != nil {
		return fmt.Errorf("PARJARM_SIGNING_KEYS_FILE: %w: give the gateway's keys other kids", err)
	}

	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg2)
	// The registry and the keys are swapped whole by reloads.
	clients, keyHolder := client.NewSwappable(reg), jarm.NewKeys(keys)
	rl.m, rl.clients, rl.keys, rl.upstreamKeys = m, clients, keyHolder, disc.UpstreamKeys
	rl.loaded(loadedFrom)

	fetcher := client.NewKeyFetcher(client.FetchOptions{
		HTTPClient: &http.Client{Transport: proxy.Transport(cfg.JWKSFetchTimeout, cfg.JWKSFetchTimeout)},
		Timeout:    cfg.JWKSFetchTimeout,
		MaxBytes:   cfg.JWKSMaxBytes,
		CacheTTL:   cfg.JWKSCacheTTL,
	})
	auth := &client.Authenticator{
		Registry: clients,
		Keys:     fetcher,
		Replay:   st,
		Audience: client.Audience{
			Issuer: issuer,
			// The token endpoint as discovery advertises it (RFC 7523
			// section 3: the client names the URL it was given): with
			// PARJARM_UPSTREAM_PRESERVE_HOST=false the upstream's metadata
			// names its internal address, which no client is told.
			TokenEndpoint: proxy.PublicEndpoint(upstreamBase, publicURL, meta.TokenEndpoint),
			PAREndpoint:   parEndpoint,
			IssuerOnly:    cfg.ClientAssertionAudience == config.AudienceIssuer,
		},
		Algorithms: cfg.SigningAlgsAllowed,
		ClockSkew:  cfg.ClockSkew,
		ClientCAs:  clientCAs,
		Profile:    cfg.Profile,
	}
	// Every FAPI profile requires pushed requests (profile.Name.RequiresPAR).
	requirePAR := cfg.RequirePAR || cfg.Profile.RequiresPAR()
	parSvc := par.New(par.Options{
		Issuer:                     issuer,
		PAREndpoint:                parEndpoint,
		DefaultLifetime:            cfg.PARLifetime,
		CompletionWindow:           cfg.TransactionTTL,
		MaxBodyBytes:               cfg.PARMaxBodyBytes,
		MaxParams:                  cfg.MaxParams,
		RequirePAR:                 requirePAR,
		RequirePKCE:                cfg.RequirePKCE,
		RequireSignedRequestObject: cfg.RequireSignedRequestObject,
		Algorithms:                 cfg.SigningAlgsAllowed,
		RequestObjectMaxAge:        cfg.RequestObjectMaxAge,
		ClockSkew:                  cfg.ClockSkew,
		JARM:                       cfg.JARMEnabled,
		ResponseTypes:              meta.ResponseTypes,
		Decrypter:                  keyHolder,
		Profile:                    cfg.Profile,
		TracerProvider:             tp,
	}, clients, auth, fetcher, st, m, log.Named("par"))

	var encoder proxy.Encoder
	var jarmMeta map[string]any
	if cfg.JARMEnabled {
		enc, err := jarm.NewSwappableEncoder(keyHolder, fetcher, jarm.Options{
			Issuer:     issuer,
			Lifetime:   cfg.JARMLifetime,
			DefaultAlg: string(cfg.DefaultSigningAlg),
			Profile:    cfg.Profile,
		})
		if err != nil {
			return fmt.Errorf("PARJARM_DEFAULT_SIGNING_ALG: %w", err)
		}
		encoder, rl.encoder = enc, enc
		jarmMeta = jarm.Metadata(enc)
	}

	var codes *codebind.Binder
	if pkceEnforced {
		// Public clients and those that require PKCE redeem only codes the
		// gateway delivered and checked.
		codes = codebind.New(st, cfg.CodeLifetime, func(id string) bool {
			c, ok := clients.Lookup(id)
			return cfg.RequirePKCE || (ok && (c.RequirePKCE || c.Public()))
		})
	}

	gw := proxy.New(proxy.Options{
		Upstream:              upstreamBase,
		Issuer:                issuer,
		UpstreamIssuer:        meta.Issuer,
		PublicURL:             publicURL,
		PAREnabled:            cfg.PAREnabled,
		JARMEnabled:           cfg.JARMEnabled,
		Endpoints:             endpoints,
		RequirePAR:            requirePAR,
		AuthorizationPath:     authzPath,
		PreserveHost:          cfg.UpstreamPreserveHost,
		ReentryParams:         cfg.UpstreamReentryParams,
		TrustedProxies:        cfg.TrustedProxies,
		DialTimeout:           cfg.UpstreamDialTimeout,
		ResponseHeaderTimeout: cfg.UpstreamTimeout,
		MaxFormBytes:          cfg.PARMaxBodyBytes,
		MaxParams:             cfg.MaxParams,
		Pages:                 pages,
		Metadata:              jarmMeta,
		PARMetadata:           parSvc.Metadata(),
		PublicKeys:            keyHolder.Public,
		EnforceRedirectURIs:   cfg.EnforceRedirectURIs,
		TokenPath:             tokenPath,
		Codes:                 codes,
		Limiter:               proxy.NewLimiter(cfg.RateLimit, cfg.RateLimitBurst, cfg.RateLimitIPv6Prefix, nil),
		ClientCertHeaders:     clientCertHeaders(cfg),
		UpstreamCertHeader:    cfg.UpstreamClientCertHeader,
		UpstreamCertFormat:    cfg.UpstreamClientCertHeaderFormat,
		VouchCert: func(chain []*x509.Certificate) bool {
			return client.VerifiedChain(chain, clientCAs, clients, time.Now())
		},
		Profile:        cfg.Profile,
		TracerProvider: tp,
	}, disc, parSvc, encoder, clients, flow.NewTracker(st, cfg.TransactionTTL, nil), transport, m, log.Named("proxy"))

	var tlsCfg *tls.Config
	if serverCerts != nil {
		tlsCfg = tlsauth.ServerConfig(serverCerts, mtlsHosts(cfg, publicURL, issuer)...)
	}
	// Every request's client certificate (TLS connection or trusted
	// proxy's header) goes into its context before anything reads it.
	certs := &tlsauth.Source{
		Header: cfg.ClientCertHeader, Format: cfg.ClientCertHeaderFormat, TrustedProxies: cfg.TrustedProxies,
		OnMalformed: func(r *http.Request, err error) {
			log.Warn("a trusted proxy sent a client certificate header that does not parse; the request has no certificate",
				zap.String("header", cfg.ClientCertHeader), zap.String("path", r.URL.Path), zap.Error(err))
		},
	}
	public := &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           certs.Handler(gw),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	admin := &http.Server{
		Addr:              cfg.AdminAddr,
		Handler:           adminHandler(st, disc, reg2, rl.status, cfg.Pprof, log),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
	}
	log.Info("parjarm ready",
		zap.String("listen", cfg.ListenAddr), zap.String("admin", cfg.AdminAddr),
		zap.String("issuer", issuer), zap.String("upstream", cfg.UpstreamURL.Redacted()),
		zap.String("authorization_path", authzPath), zap.String("par_endpoint", parEndpoint),
		zap.Bool("par", cfg.PAREnabled), zap.Bool("jarm", cfg.JARMEnabled), zap.Bool("require_par", requirePAR), zap.String("profile", string(cfg.Profile)),
		zap.Bool("token_endpoint_pkce", pkceEnforced), zap.String("token_path", tokenPath),
		zap.Bool("tls", tlsCfg != nil), zap.String("mtls_par_endpoint", endpoints.AliasURL(proxy.EndpointPAR)),
		zap.Int("clients", reg.Len()), zap.String("store", cfg.StoreKind()),
		zap.Duration("reload_interval", cfg.ReloadInterval))
	// SIGHUP reloads the clients and keys (before serving: a signal that
	// came with nobody listening would end the process).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	rctx, stopReload := context.WithCancel(ctx)
	defer stopReload()
	go rl.run(rctx, hup, cfg.ReloadInterval)
	return serve(ctx, log, cfg.ShutdownTimeout, public, admin)
}

// endpointsConfig places the gateway's endpoints: PAR (when enabled) and
// the key set below the public URL, discovery from the issuer, none on the
// upstream's endpoints up.
func endpointsConfig(cfg *config.Config, issuer string, public *url.URL, up []proxy.UpstreamEndpoint) proxy.EndpointsConfig {
	c := proxy.EndpointsConfig{Issuer: issuer, PublicURL: public, JWKSPath: cfg.JWKSPath, Upstream: up,
		MTLS: seesClientCerts(cfg), MTLSPublicURL: cfg.MTLSPublicURL}
	if cfg.PAREnabled {
		c.PARPath = cfg.PARPath
	}
	return c
}

// tokenEndpointPath is the path at which clients reach the upstream's
// token endpoint through the gateway, mapped like the authorization
// endpoint's (proxy.PublicEndpoint). A token endpoint on another host is not
// reached through the gateway, so the gateway could not check it.
func tokenEndpointPath(upstream *url.URL, publicURL, tokenEndpoint string) (string, error) {
	if tokenEndpoint == "" {
		return "", errors.New("the upstream's discovery names no token_endpoint")
	}
	u, err := url.Parse(proxy.PublicEndpoint(upstream, publicURL, tokenEndpoint))
	pub, perr := url.Parse(publicURL)
	if err != nil || perr != nil || u.Path == "" || !strings.EqualFold(u.Host, pub.Host) || u.Scheme != pub.Scheme {
		return "", fmt.Errorf("the upstream's token_endpoint %q is not served through the gateway at %s", tokenEndpoint, publicURL)
	}
	return u.Path, nil
}

// discoveryPath is where the upstream's OpenID discovery document is read:
// under the issuer's path (OpenID Connect Discovery, section 4), or at the
// root for an issuer not known yet ("").
func discoveryPath(issuer string) string {
	p := ""
	if u, err := url.Parse(issuer); err == nil {
		p = strings.TrimSuffix(u.Path, "/")
	}
	return p + "/.well-known/openid-configuration"
}

// serve runs the servers until ctx ends or one fails, then shuts them down
// gracefully within timeout.
func serve(ctx context.Context, log *zap.Logger, timeout time.Duration, servers ...*http.Server) error {
	errc := make(chan error, len(servers))
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", s.Addr, err)
		}
		go func() {
			var err error
			if s.TLSConfig != nil {
				// The certificate comes from TLSConfig.GetCertificate.
				err = s.ServeTLS(ln, "", "")
			} else {
				err = s.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("server on %s: %w", s.Addr, err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
		log.Info("shutting down", zap.Duration("timeout", timeout))
	case err = <-errc:
		log.Error("server failed; shutting down", zap.Error(err))
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, s := range servers {
		if serr := s.Shutdown(sctx); serr != nil {
			err = errors.Join(err, fmt.Errorf("shutdown %s: %w", s.Addr, serr))
		}
	}
	log.Info("stopped")
	return err
}

func newLogger(cfg *config.Config, out io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("PARJARM_LOG_LEVEL: %w", err)
	}
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if cfg.LogFormat == "console" {
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		enc = zapcore.NewJSONEncoder(ec)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(out), level)), nil
}

// seesClientCerts reports whether the gateway receives client
// certificates: it terminates TLS, or a TLS terminator forwards them.
func seesClientCerts(cfg *config.Config) bool {
	return cfg.TLSCertFile != "" || cfg.ClientCertHeader != ""
}

// clientCertHeaders are the certificate headers a trusted TLS terminator
// sends, which no other peer may.
func clientCertHeaders(cfg *config.Config) []string {
	if cfg.ClientCertHeader == "" {
		return nil
	}
	h := []string{cfg.ClientCertHeader}
	if cfg.ClientCertHeaderFormat == tlsauth.FormatRFC9440 {
		h = append(h, tlsauth.ChainHeaderRFC9440)
	}
	return h
}

// mtlsHosts are the hosts whose TLS clients are asked for certificates:
// the PARJARM_MTLS_PUBLIC_URL host when it is a host of its own, else every
// host (none listed).
func mtlsHosts(cfg *config.Config, publicURL, issuer string) []string {
	if cfg.MTLSPublicURL == nil {
		return nil
	}
	h := cfg.MTLSPublicURL.Hostname()
	for _, s := range []string{publicURL, issuer} {
		if u, err := url.Parse(s); err == nil && strings.EqualFold(u.Hostname(), h) {
			return nil
		}
	}
	return []string{h}
}

// loadTLS reads the listener's certificate (reloaded when its files
// change) and the client CAs. Both are nil when not configured.
func loadTLS(cfg *config.Config, log *zap.Logger) (*tlsauth.CertReloader, *x509.CertPool, error) {
	var certs *tlsauth.CertReloader
	if cfg.TLSCertFile != "" {
		var err error
		if certs, err = tlsauth.NewCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			return nil, nil, fmt.Errorf("PARJARM_TLS_CERT_FILE: %w", err)
		}
		certs.OnError = func(err error) {
			log.Warn("TLS certificate reload failed; serving the previous certificate", zap.Error(err))
		}
	}
	var pool *x509.CertPool
	if cfg.TLSClientCAFile != "" {
		var err error
		if pool, err = tlsauth.LoadCAs(cfg.TLSClientCAFile); err != nil {
			return nil, nil, fmt.Errorf("PARJARM_TLS_CLIENT_CA_FILE: %w", err)
		}
	}
	return certs, pool, nil
}

func loadClients(cfg *config.Config) (*client.Registry, error) {
	if cfg.ClientsFile == "" {
		return client.NewRegistry()
	}
	reg, err := client.Load(cfg.ClientsFile)
	if err != nil {
		return nil, fmt.Errorf("PARJARM_CLIENTS_FILE: %w", err)
	}
	// Clients without a fapi_profile of their own are held to the gateway's.
	if err := reg.CheckProfile(cfg.Profile); err != nil {
		return nil, fmt.Errorf("PARJARM_CLIENTS_FILE: %w", err)
	}
	if !cfg.PAREnabled && reg.RequiresPAR() {
		// RFC 9126, section 6: a client that requires PAR must never be
		// served without it; with PAR off the gateway could not refuse its
		// plain requests.
		return nil, errors.New("PARJARM_CLIENTS_FILE: a client requires pushed authorization requests (require_pushed_authorization_requests or a FAPI profile), but PARJARM_PAR_ENABLED is false: enable PAR or change the client")
	}
	return reg, nil
}

func loadKeys(cfg *config.Config, log *zap.Logger) (*jarm.KeySet, error) {
	var keys *jarm.KeySet
	var err error
	if cfg.SigningKeysFile == "" {
		keys, err = jarm.GenerateDevelopmentKeys()
		if err != nil {
			return nil, fmt.Errorf("generate development keys: %w", err)
		}
		log.Warn("NO SIGNING KEYS CONFIGURED: using ephemeral development keys that change at every start. " +
			"JARM responses cannot be verified across restarts or replicas. Set PARJARM_SIGNING_KEYS_FILE in production.")
	} else if keys, err = jarm.LoadKeys(cfg.SigningKeysFile); err != nil {
		return nil, fmt.Errorf("PARJARM_SIGNING_KEYS_FILE: %w", err)
	}
	if cfg.SigningKeyID != "" {
		if err := keys.SetActive(cfg.SigningKeyID); err != nil {
			return nil, fmt.Errorf("PARJARM_SIGNING_KEY_ID: %w", err)
		}
	}
	return keys, nil
}

// loadPages loads the error pages: the operator's template and texts, if
// any, over the built-in ones. A template or a locale file that does not load
// stops start-up with its file (and line).
func loadPages(cfg *config.Config) (*errpage.Pages, error) {
	if _, err := errpage.Load("", cfg.ErrorLocales); err != nil {
		return nil, fmt.Errorf("PARJARM_ERROR_LOCALES: %w", err)
	}
	pages, err := errpage.Load(cfg.ErrorTemplate, cfg.ErrorLocales)
	if err != nil {
		return nil, fmt.Errorf("PARJARM_ERROR_TEMPLATE: %w", err)
	}
	return pages, nil
}

func openStore(cfg *config.Config, log *zap.Logger) (store.Store, error) {
	if cfg.StoreKind() == "memory" {
		log.Warn("using the in-memory store: single instance only; pushed requests and flows are lost at restart and not shared between replicas. Set PARJARM_REDIS_URL for production.",
			zap.Int("max_entries", cfg.MemoryStoreMaxEntries))
		return store.NewMemory(store.MemoryOptions{MaxEntries: cfg.MemoryStoreMaxEntries}), nil
	}
	opts := store.RedisOptions{
		SentinelMaster:   cfg.RedisSentinelMaster,
		SentinelAddrs:    cfg.RedisSentinelAddrs,
		SentinelPassword: cfg.RedisSentinelPassword,
		ClusterAddrs:     cfg.RedisClusterAddrs,
		Username:         cfg.RedisUsername,
		Password:         cfg.RedisPassword,
		TLS:              cfg.RedisTLS,
		DialTimeout:      cfg.RedisDialTimeout,
		ReadTimeout:      cfg.RedisTimeout,
		WriteTimeout:     cfg.RedisTimeout,
		MinReplicas:      cfg.RedisMinReplicas,
	}
	if cfg.RedisURL != nil {
		opts.URL = cfg.RedisURL.String()
	}
	st, err := store.NewRedis(opts)
	if err != nil {
		return nil, fmt.Errorf("PARJARM_REDIS_*: %w", err)
	}
	return st, nil
}

// adminHandler serves /healthz (alive), /readyz (store and upstream
// reachable), /metrics and, with withPprof, the Go profiles at
// /debug/pprof/. reload returns the last failed reload, which /readyz shows
// after its first line without failing readiness: the previous clients and
// keys still serve.
func adminHandler(st store.Store, disc *proxy.Discovery, reg *prometheus.Registry, reload func() string, withPprof bool, log *zap.Logger) http.Handler {
	mux := http.NewServeMux()
	if withPprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var problems []string
		if err := st.Ping(ctx); err != nil {
			problems = append(problems, "store: "+err.Error())
		}
		if err := disc.Check(ctx); err != nil {
			problems = append(problems, "upstream: "+err.Error())
		}
		detail := ""
		if d := reload(); d != "" {
			detail = d + "\n"
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if len(problems) > 0 {
			log.Warn("not ready", zap.Strings("problems", problems))
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, strings.Join(problems, "\n")+"\n"+detail)
			return
		}
		_, _ = io.WriteString(w, "ready\n"+detail)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// health probes the admin listener's /healthz: the container health check,
// for images without a shell.
func health(ctx context.Context, environ map[string]string) error {
	addr := environ["PARJARM_ADMIN_ADDR"]
	if addr == "" {
		addr = ":9090"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("PARJARM_ADMIN_ADDR: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s", resp.Status)
	}
	return nil
}
