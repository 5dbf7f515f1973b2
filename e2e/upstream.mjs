// The "legacy" authorization server of the end-to-end suite: node
// oidc-provider 9, used unmodified, configured WITHOUT Pushed Authorization
// Requests and WITHOUT JWT response modes (JARM). The gateway is what adds
// them. Login and consent are a minimal interaction built on the provider's
// own interaction API (no devInteractions).
//
// Library use:   const up = await startUpstream({ port, issuer, clients }); ...; await up.close();
//                (mountPath: '/realms/bank' serves it under that path, Keycloak-style; see startUpstream)
// Standalone:    node e2e/upstream.mjs [--host 127.0.0.1] --port 4000 --issuer http://127.0.0.1:8080 [--clients clients.json]
//                (clients.json: an array of oidc-provider client metadata, or {"clients": [...]})
//
// `issuer` is the gateway's public URL: the upstream sits behind the gateway,
// so every URL it builds (discovery, the interaction resume URL) must be the
// gateway's. The provider trusts X-Forwarded-* (provider.proxy = true), as
// any oidc-provider deployment behind a reverse proxy does.
import { createServer } from 'node:http';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

import Provider from 'oidc-provider';

import { USER, upstreamKeys } from './lib/fixtures.mjs';

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;max-width:28rem;margin:3rem auto}label,input,button{display:block;margin:.4rem 0}button{padding:.4rem 1.2rem}</style>
</head>
<body>
<h1>${esc(title)}</h1>
${body}
</body>
</html>`;
}

function loginPage(uid, clientId, error, base = '') {
  return page('Legacy upstream: sign in', `
<p>Client <code>${esc(clientId)}</code> asks you to sign in.</p>
${error ? `<p id="error" role="alert">${esc(error)}</p>` : ''}
<form id="login" method="post" action="${esc(base)}/interaction/${esc(uid)}/login">
  <label for="username">Username</label><input id="username" name="username" autocomplete="username" required>
  <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
  <button id="sign-in" type="submit">Sign in</button>
</form>`);
}

function consentPage(uid, clientId, scopes, base = '') {
  return page('Legacy upstream: consent', `
<p>Client <code>${esc(clientId)}</code> asks for: <code id="scopes">${esc(scopes.join(' '))}</code></p>
<form id="consent" method="post" action="${esc(base)}/interaction/${esc(uid)}/confirm">
  <button id="allow" type="submit" name="decision" value="allow">Allow</button>
  <button id="deny" type="submit" name="decision" value="deny">Deny</button>
</form>`);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(c);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

// The logout confirmation page: oidc-provider's own form (its xsrf input)
// with the two buttons inside it, so the scripted user agent finds them.
async function logoutSource(ctx, form) {
  ctx.body = page('Legacy upstream: sign out', `
<p>Do you want to sign out of <code>${esc(ctx.host)}</code>?</p>
${form.replace('</form>', '<button id="logout-yes" type="submit" name="logout" value="yes">Yes, sign me out</button><button id="logout-no" type="submit">No, stay signed in</button></form>')}`);
}

// The page shown after a logout without post_logout_redirect_uri.
async function postLogoutSuccessSource(ctx) {
  ctx.body = page('Legacy upstream: signed out', `<p id="signed-out">You are signed out${ctx.oidc.client ? ` of <code>${esc(ctx.oidc.client.clientId)}</code>` : ''}.</p>`);
}

// pkceParams are the parameters a server without PKCE (RFC 7636) does not
// know.
const pkceParams = ['code_challenge', 'code_challenge_method', 'code_verifier'];

/**
 * withoutPKCE makes the provider a server that lacks PKCE. oidc-provider 9
 * always implements it (it advertises S256, stores a code_challenge and
 * checks the code_verifier; `pkce.required` only decides whether it is
 * mandatory), so the PKCE parameters are removed from every request before
 * the provider reads them (query and form body), and
 * code_challenge_methods_supported from its discovery document: the
 * provider then issues codes bound to nothing and redeems them without a
 * verifier, as such a server does.
 */
function withoutPKCE(provider) {
  provider.use(async (ctx, next) => {
    const q = new URLSearchParams(ctx.querystring);
    if (pkceParams.some((p) => q.has(p))) {
      for (const p of pkceParams) q.delete(p);
      ctx.querystring = q.toString();
    }
    if (ctx.method === 'POST' && ctx.is('application/x-www-form-urlencoded')) {
      const form = await readForm(ctx.req);
      for (const p of pkceParams) form.delete(p);
      // oidc-provider reads an already consumed body from req.body.
      ctx.req.body = form.toString();
    }
    await next();
    if (ctx.path.endsWith('/.well-known/openid-configuration') && ctx.body && typeof ctx.body === 'object') {
      delete ctx.body.code_challenge_methods_supported;
    }
  });
}

/**
 * certificateFromHeader is a legacy server's mutual TLS behind a load
 * balancer: oidc-provider's mTLS feature (RFC 8705 tls_client_auth and
 * certificate-bound access tokens) with the client certificate read from
 * the header the TLS terminator (here: the gateway,
 * PARJARM_UPSTREAM_CLIENT_CERT_HEADER with format nginx) writes, a
 * URL-escaped PEM. caPem is the CA the upstream trusts for tls_client_auth.
 */
function certificateFromHeader({ header, caPem }) {
  const ca = new X509Certificate(caPem);
  const certificate = (ctx) => {
    const v = ctx.get(header);
    if (!v) return undefined;
    try {
      return new X509Certificate(decodeURIComponent(v));
    } catch {
      return undefined;
    }
  };
  return {
    enabled: true,
    certificateBoundAccessTokens: true,
    tlsClientAuth: true,
    getCertificate: (ctx) => certificate(ctx)?.toString(),
    certificateAuthorized(ctx) {
      const c = certificate(ctx);
      const now = Date.now();
      return Boolean(c && c.checkIssued(ca) && c.verify(ca.publicKey) && Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo));
    },
    certificateSubjectMatches(ctx, property, expected) {
      const c = certificate(ctx);
      if (!c || property !== 'tls_client_auth_san_dns') return false;
      return (c.subjectAltName ?? '').split(', ').includes(`DNS:${expected}`);
    },
  };
}

/**
 * buildProvider creates the oidc-provider instance with PAR and JARM off;
 * with pkce false, also without PKCE (withoutPKCE); with mtls
 * ({ header, caPem }), with mutual TLS behind a load balancer
 * (certificateFromHeader).
 */
export function buildProvider({ issuer, clients, jwks = upstreamKeys(), features = {}, mountPath = '', pkce = true, mtls, config = {} }) {
  const provider = new Provider(issuer, {
    clients,
    jwks,
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    // What oidc-provider 9 can do without PAR/JARM: code, the hybrid
    // "code id_token", implicit "id_token", and "none".
    responseTypes: ['code', 'code id_token', 'id_token', 'none'],
    features: {
      devInteractions: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      jwtResponseModes: { enabled: false },
      // A legacy server: no JAR either; the gateway verifies request objects.
      requestObjects: { enabled: false },
      // Logout (OpenID Connect RP-Initiated Logout 1.0, on by default, and
      // Back-Channel Logout 1.0). oidc-provider 9 implements neither Session
      // Management (session_state, check_session_iframe) nor Front-Channel
      // Logout: both were removed in v8.
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      backchannelLogout: { enabled: true },
      ...(mtls ? { mTLS: certificateFromHeader(mtls) } : {}),
      // Only for control experiments (a server with native PAR/JARM); the
      // suite's upstream never sets it.
      ...features,
    },
    // oidc-provider's outgoing requests (here: back-channel logout POSTs)
    // refuse special-use addresses, loopback included (SSRF protection); the
    // suite's relying party listens on 127.0.0.1, so only for that host the
    // guard's dispatcher is dropped.
    fetch: (url, options) => {
      if (new URL(url).hostname !== '127.0.0.1') return globalThis.fetch(url, options);
      const { dispatcher, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    interactions: {
      url: (ctx, interaction) => `${mountPath}/interaction/${interaction.uid}`,
    },
    async findAccount(ctx, sub) {
      if (sub !== USER.sub) return undefined;
      return {
        accountId: USER.sub,
        async claims() {
          return { sub: USER.sub, email: USER.email, email_verified: true, name: USER.name };
        },
      };
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Legacy upstream: error', `<p id="error-code">${esc(out.error)}</p><p id="error-description">${esc(out.error_description ?? '')}</p>`);
    },
    // oidc-provider's default methods plus RFC 8705 tls_client_auth.
    ...(mtls ? { clientAuthMethods: ['client_secret_basic', 'client_secret_jwt', 'client_secret_post', 'private_key_jwt', 'none', 'tls_client_auth'] } : {}),
    // Without PKCE nothing is required of a public client either.
    ...(pkce ? {} : { pkce: { required: () => false } }),
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      RefreshToken: 3600,
    },
    // Only for control experiments (bench/compare/peer.mjs): more provider
    // configuration, such as loadExistingGrant.
    ...config,
  });
  provider.proxy = true;
  if (!pkce) withoutPKCE(provider);
  return provider;
}

/**
 * interactionHandler serves the login and consent pages and their form posts
 * under /interaction/:uid, finishing the interaction through the provider's
 * API. The consent "Deny" button finishes it with access_denied.
 */
function interactionHandler(provider, log, base = '') {
  return async (req, res) => {
    const url = new URL(req.url, 'http://upstream.invalid');
    const m = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|confirm))?$/);
    if (!m) return false;
    const [, uid, action] = m;
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.uid !== uid) {
        send(res, 400, page('Legacy upstream: error', '<p id="error-code">interaction mismatch</p>'));
        return true;
      }
      const { prompt, params } = details;
      if (req.method === 'GET' && !action) {
        if (prompt.name === 'login') {
          send(res, 200, loginPage(uid, params.client_id, undefined, base));
        } else {
          send(res, 200, consentPage(uid, params.client_id, String(params.scope ?? '').split(' ').filter(Boolean), base));
        }
        return true;
      }
      if (req.method !== 'POST') {
        send(res, 405, page('Legacy upstream: error', '<p id="error-code">method not allowed</p>'));
        return true;
      }
      const form = await readForm(req);
      if (action === 'login') {
        if (prompt.name !== 'login') throw new Error(`login posted while prompt is ${prompt.name}`);
        if (form.get('username') !== USER.username || form.get('password') !== USER.password) {
          send(res, 200, loginPage(uid, params.client_id, 'Invalid username or password.', base));
          return true;
        }
        log?.(`interaction ${uid}: ${USER.username} signed in`);
        await provider.interactionFinished(req, res, { login: { accountId: USER.sub } }, { mergeWithLastSubmission: false });
        return true;
      }
      // action === 'confirm'
      if (prompt.name !== 'consent') throw new Error(`consent posted while prompt is ${prompt.name}`);
      if (form.get('decision') !== 'allow') {
        log?.(`interaction ${uid}: consent denied`);
        await provider.interactionFinished(req, res, {
          error: 'access_denied',
          error_description: 'End-User denied the authorization request',
        }, { mergeWithLastSubmission: false });
        return true;
      }
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
      const d = prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      if (d.missingResourceScopes) {
        for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
      }
      const grantId = await grant.save();
      log?.(`interaction ${uid}: consent given`);
      await provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
    } catch (err) {
      log?.(`interaction ${uid}: ${err.name}: ${err.message}`);
      if (!res.headersSent) {
        send(res, 400, page('Legacy upstream: error', `<p id="error-code">${esc(err.name)}</p><p id="error-description">${esc(err.message)}</p>`));
      }
    }
    return true;
  };
}

/**
 * startUpstream starts the legacy upstream on host:port (default
 * 127.0.0.1, port 0 = any free port), without PKCE when pkce is false, and
 * resolves to
 * { url, port, issuer, provider, certificates, close }.
 *
 * mtls ({ header, caPem }) turns on oidc-provider's mutual TLS with the
 * client certificate read from that header (certificateFromHeader); then
 * `certificates` lists what each request carried in it.
 *
 * mountPath (default '': everything at the root) serves the provider and its
 * login pages under a path, as Keycloak serves a realm: with
 * mountPath '/realms/bank' and the issuer http://gw/realms/bank, discovery is
 * at /realms/bank/.well-known/openid-configuration, every endpoint and the
 * interaction pages below /realms/bank, and anything else is a 404. It
 * mounts the provider the way oidc-provider's docs do for plain node http
 * ("Mounting oidc-provider"): req.url loses the prefix, req.originalUrl
 * keeps it, and the provider builds its URLs with the prefix back.
 */
export async function startUpstream({ host = '127.0.0.1', port = 0, issuer, clients, jwks, log, features, mountPath = '', pkce, mtls } = {}) {
  if (!issuer) throw new TypeError('startUpstream: issuer (the gateway public URL) is required');
  if (mountPath && (!/^(\/[\w.-]+)+$/.test(mountPath) || !new URL(issuer).pathname.endsWith(mountPath))) {
    throw new TypeError(`startUpstream: mountPath ${mountPath} must be a path like /realms/bank that ends the issuer's path (${issuer})`);
  }
  const provider = buildProvider({ issuer, clients, jwks, features, mountPath, pkce, mtls });
  // With mtls: what arrived in the certificate header, per request
  // ({ method, path, certificate }: the header's value or undefined).
  const certificates = [];
  if (mtls) {
    provider.use(async (ctx, next) => {
      certificates.push({ method: ctx.method, path: ctx.path, certificate: ctx.get(mtls.header) || undefined });
      await next();
    });
  }
  const interactions = interactionHandler(provider, log, mountPath);
  const callback = provider.callback();
  if (log) {
    provider.on('server_error', (ctx, err) => log(`server_error: ${err.stack}`));
    provider.on('authorization.error', (ctx, err) => log(`authorization.error: ${err.message} ${err.error_description ?? ''}`));
    provider.on('backchannel.error', (ctx, err, client) => log(`backchannel.error: ${client.clientId}: ${err.message}`));
    provider.on('backchannel.success', (ctx, client) => log(`backchannel.success: ${client.clientId}`));
    provider.on('end_session.success', () => log('end_session.success'));
    provider.on('grant.error', (ctx, err) => log(`grant.error: ${err.message} ${err.error_description ?? ''}`));
  }
  const server = createServer(async (req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (mountPath) {
      const rest = req.url.startsWith(mountPath) ? req.url.slice(mountPath.length) : undefined;
      if (rest === undefined || !(rest === '' || rest.startsWith('/') || rest.startsWith('?'))) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: the upstream lives under ${mountPath}`);
        return;
      }
      req.originalUrl = req.url;
      req.url = rest.startsWith('/') ? rest : `/${rest}`;
    }
    if (await interactions(req, res)) return;
    callback(req, res);
  });
  server.keepAliveTimeout = 5000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = server.address().port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${actual}`,
    port: actual,
    issuer,
    provider,
    certificates,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '4000' },
      issuer: { type: 'string' },
      clients: { type: 'string' },
    },
  });
  const issuer = values.issuer ?? `http://127.0.0.1:${values.port}`;
  let clients = [];
  if (values.clients) {
    const doc = JSON.parse(readFileSync(values.clients, 'utf8'));
    clients = Array.isArray(doc) ? doc : doc.clients;
  }
  const up = await startUpstream({ host: values.host, port: Number(values.port), issuer, clients, log: (l) => console.log(`[upstream] ${l}`) });
  console.log(`legacy upstream (oidc-provider, no PAR, no JARM) listening on ${values.host}:${up.port}, issuer ${issuer}`);
  console.log(`user: ${USER.username} / ${USER.password}; ${clients.length} client(s)`);
  const stop = async () => {
    await up.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
