// The "legacy" authorization server of the end-to-end suite: node
// oidc-provider 9, used unmodified, configured WITHOUT Pushed Authorization
// Requests and WITHOUT JWT response modes (JARM). The gateway is what adds
// them. Login and consent are a minimal interaction built on the provider's
// own interaction API (no devInteractions).
//
// Library use:   const up = await startUpstream({ port, issuer, clients }); ...; await up.close();
// Standalone:    node e2e/upstream.mjs [--host 127.0.0.1] --port 4000 --issuer http://127.0.0.1:8080 [--clients clients.json]
//                (clients.json: an array of oidc-provider client metadata, or {"clients": [...]})
//
// `issuer` is the gateway's public URL: the upstream sits behind the gateway,
// so every URL it builds (discovery, the interaction resume URL) must be the
// gateway's. The provider trusts X-Forwarded-* (provider.proxy = true), as
// any oidc-provider deployment behind a reverse proxy does.
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
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

function loginPage(uid, clientId, error) {
  return page('Legacy upstream: sign in', `
<p>Client <code>${esc(clientId)}</code> asks you to sign in.</p>
${error ? `<p id="error" role="alert">${esc(error)}</p>` : ''}
<form id="login" method="post" action="/interaction/${esc(uid)}/login">
  <label for="username">Username</label><input id="username" name="username" autocomplete="username" required>
  <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
  <button id="sign-in" type="submit">Sign in</button>
</form>`);
}

function consentPage(uid, clientId, scopes) {
  return page('Legacy upstream: consent', `
<p>Client <code>${esc(clientId)}</code> asks for: <code id="scopes">${esc(scopes.join(' '))}</code></p>
<form id="consent" method="post" action="/interaction/${esc(uid)}/confirm">
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
 * buildProvider creates the oidc-provider instance with PAR and JARM off;
 * with pkce false, also without PKCE (withoutPKCE).
 */
export function buildProvider({ issuer, clients, jwks = upstreamKeys(), features = {}, pkce = true }) {
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
      // Only for control experiments (a server with native PAR/JARM); the
      // suite's upstream never sets it.
      ...features,
    },
    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
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
function interactionHandler(provider, log) {
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
          send(res, 200, loginPage(uid, params.client_id));
        } else {
          send(res, 200, consentPage(uid, params.client_id, String(params.scope ?? '').split(' ').filter(Boolean)));
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
          send(res, 200, loginPage(uid, params.client_id, 'Invalid username or password.'));
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
 * { url, port, issuer, provider, close }.
 */
export async function startUpstream({ host = '127.0.0.1', port = 0, issuer, clients, jwks, log, features, pkce } = {}) {
  if (!issuer) throw new TypeError('startUpstream: issuer (the gateway public URL) is required');
  const provider = buildProvider({ issuer, clients, jwks, features, pkce });
  const interactions = interactionHandler(provider, log);
  const callback = provider.callback();
  if (log) {
    provider.on('server_error', (ctx, err) => log(`server_error: ${err.stack}`));
    provider.on('authorization.error', (ctx, err) => log(`authorization.error: ${err.message} ${err.error_description ?? ''}`));
    provider.on('grant.error', (ctx, err) => log(`grant.error: ${err.message} ${err.error_description ?? ''}`));
  }
  const server = createServer(async (req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
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
