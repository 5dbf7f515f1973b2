// ORY Hydra v2 as a second real legacy upstream: a fresh PostgreSQL
// database, `hydra migrate sql up`, `hydra serve all --dev` on free loopback
// ports, and a login/consent app on an origin of its own that accepts every
// login (a fixed subject) and every consent (the requested scopes) through
// Hydra's admin API. The binary comes from scripts/hydra.sh (HYDRA_BIN).
//
// Hydra advertises neither PAR nor JARM. Its issuer (urls.self.issuer) is
// written into every URL of its discovery document, so it is set to the
// gateway's public URL: clients and the login app's redirects go through
// the gateway.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { UserAgent } from '../agent.mjs';
import { startCallbackServer } from './callback.mjs';
import { makeWorldConfig, signingKeys } from './fixtures.mjs';
import { startReplicas } from './gateway.mjs';
import { freePort, startService } from './net.mjs';
import { startRedis } from './redis.mjs';

const run = promisify(execFile);

/** SUBJECT is the one user the login app signs in. */
export const SUBJECT = Object.freeze({ sub: 'hydra-alice', email: 'alice@example.com', name: 'Alice Liddell' });

/** hydraBinary is the Hydra binary scripts/hydra.sh built (its path in HYDRA_BIN). */
export function hydraBinary() {
  const bin = process.env.HYDRA_BIN;
  if (!bin || !existsSync(bin)) {
    throw new Error(`Hydra binary ${bin ? `${bin} not found` : 'unknown: HYDRA_BIN is not set'}: run the suite with scripts/e2e.sh, or build it with scripts/hydra.sh and export HYDRA_BIN=$(scripts/hydra.sh)`);
  }
  return bin;
}

// PostgreSQL on 127.0.0.1:5432 with trust authentication (PGHOST, PGPORT,
// PGUSER and PGPASSWORD override); scripts/e2e.sh checks it is up before
// node starts.
const pg = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: process.env.PGPORT ?? '5432',
  user: process.env.PGUSER ?? 'postgres',
};

async function psql(sql) {
  try {
    const { stdout } = await run('psql', ['-h', pg.host, '-p', pg.port, '-U', pg.user, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { timeout: 30000 });
    return stdout;
  } catch (err) {
    throw new Error(`psql -h ${pg.host} -p ${pg.port} -U ${pg.user} -c "${sql}" failed: ${err.stderr || err.message}`);
  }
}

const DB_PREFIX = 'parjarm_e2e_hydra_';

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

// dropStaleDatabases drops the databases of earlier runs whose node process
// is gone (killed before its cleanup ran); those of live runs stay.
async function dropStaleDatabases() {
  const names = (await psql(`select datname from pg_database where datname like '${DB_PREFIX}%'`)).split('\n').filter(Boolean);
  for (const name of names) {
    const m = name.match(/^parjarm_e2e_hydra_(\d+)_[0-9a-f]+$/);
    if (m && !alive(Number(m[1]))) await psql(`drop database if exists ${name} with (force)`);
  }
}

/**
 * createDatabase creates a fresh database, named after this process, and
 * resolves to { name, dsn, drop() }.
 */
export async function createDatabase() {
  await dropStaleDatabases();
  const name = `${DB_PREFIX}${process.pid}_${randomBytes(4).toString('hex')}`;
  await psql(`create database ${name}`);
  return {
    name,
    dsn: `postgres://${encodeURIComponent(pg.user)}${process.env.PGPASSWORD ? `:${encodeURIComponent(process.env.PGPASSWORD)}` : ''}@${pg.host}:${pg.port}/${name}?sslmode=disable`,
    drop: () => psql(`drop database if exists ${name} with (force)`),
  };
}

/**
 * DENY is the query parameter (name and value) a user agent adds to the
 * login app's consent URL to refuse consent, as a user pressing "Deny"
 * would: the app then rejects the consent request through the admin API
 * with error access_denied, and Hydra sends the browser back to the client
 * with that error.
 */
export const DENY = Object.freeze({ name: 'decision', value: 'deny' });

/**
 * startLoginApp serves Hydra's login, consent and logout URLs on its own
 * origin and accepts all three through the admin API at adminUrl() (a
 * function: Hydra's admin port is known before Hydra runs), or rejects the
 * consent when its URL carries DENY. remember: whether
 * Hydra remembers the login and the consent (a login session, needed for
 * prompt=none and for RP-initiated logout to end a session). Every request is
 * recorded in hits. Resolves to { url, loginUrl, consentUrl, logoutUrl, hits, close() }.
 */
export async function startLoginApp({ adminUrl, subject = SUBJECT, log, remember = false }) {
  const hits = [];
  const admin = async (method, path, challenge, body) => {
    const res = await fetch(`${adminUrl()}${path}?${new URLSearchParams(challenge)}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json().catch(() => ({}));
    if (res.status !== 200) throw new Error(`Hydra admin ${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://login.invalid');
    hits.push({ method: req.method, path: url.pathname, query: url.searchParams });
    log?.(`${req.method} ${url.pathname}`);
    try {
      let next;
      if (url.pathname === '/login' && url.searchParams.has('login_challenge')) {
        const login_challenge = url.searchParams.get('login_challenge');
        await admin('GET', '/admin/oauth2/auth/requests/login', { login_challenge });
        ({ redirect_to: next } = await admin('PUT', '/admin/oauth2/auth/requests/login/accept', { login_challenge }, { subject: subject.sub, remember }));
      } else if (url.pathname === '/consent' && url.searchParams.has('consent_challenge')) {
        const consent_challenge = url.searchParams.get('consent_challenge');
        const cr = await admin('GET', '/admin/oauth2/auth/requests/consent', { consent_challenge });
        if (url.searchParams.get(DENY.name) === DENY.value) {
          ({ redirect_to: next } = await admin('PUT', '/admin/oauth2/auth/requests/consent/reject', { consent_challenge }, {
            error: 'access_denied',
            error_description: 'The resource owner denied the request',
          }));
        } else {
          ({ redirect_to: next } = await admin('PUT', '/admin/oauth2/auth/requests/consent/accept', { consent_challenge }, {
            grant_scope: cr.requested_scope ?? [],
            grant_access_token_audience: cr.requested_access_token_audience ?? [],
            remember,
            session: { id_token: { email: subject.email, email_verified: true, name: subject.name } },
          }));
        }
      } else if (url.pathname === '/logout' && url.searchParams.has('logout_challenge')) {
        // Hydra's logout UI (urls.logout): the user confirms; the app accepts.
        const logout_challenge = url.searchParams.get('logout_challenge');
        await admin('GET', '/admin/oauth2/auth/requests/logout', { logout_challenge });
        ({ redirect_to: next } = await admin('PUT', '/admin/oauth2/auth/requests/logout/accept', { logout_challenge }));
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      res.writeHead(302, { location: next, 'cache-control': 'no-store' }).end();
    } catch (err) {
      log?.(`error: ${err.message}`);
      res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    loginUrl: `${url}/login`,
    consentUrl: `${url}/consent`,
    logoutUrl: `${url}/logout`,
    hits,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/**
 * startHydra migrates the database at dsn and runs `hydra serve all --dev`
 * with the given issuer and login/consent URLs, on free loopback ports.
 * Resolves to { url, adminUrl, logs(), stop() } once /health/ready is 200.
 */
export async function startHydra({ dsn, issuer, loginUrl, consentUrl, logoutUrl, adminPort, log }) {
  const bin = hydraBinary();
  const publicPort = await freePort();
  adminPort ??= await freePort();
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? '/tmp',
    DSN: dsn,
    URLS_SELF_ISSUER: issuer,
    URLS_LOGIN: loginUrl,
    URLS_CONSENT: consentUrl,
    ...(logoutUrl ? { URLS_LOGOUT: logoutUrl } : {}),
    SERVE_PUBLIC_HOST: '127.0.0.1',
    SERVE_PUBLIC_PORT: String(publicPort),
    SERVE_ADMIN_HOST: '127.0.0.1',
    SERVE_ADMIN_PORT: String(adminPort),
    SECRETS_SYSTEM: randomBytes(24).toString('base64url'),
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'text',
  };
  try {
    await run(bin, ['migrate', 'sql', 'up', '--read-from-env', '--yes'], { env, timeout: 120000 });
  } catch (err) {
    throw new Error(`hydra migrate sql up failed: ${err.stderr || err.message}`);
  }
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const health = [`${adminUrl}/health/ready`, `http://127.0.0.1:${publicPort}/health/ready`];
  const svc = await startService(bin, ['serve', 'all', '--dev', '--sqa-opt-out'], {
    env,
    name: 'hydra',
    onLine: log,
    timeoutMs: 60000,
    describe: () => `hydra ${health.join(' and ')} to answer 200`,
    ready: async () => {
      const codes = await Promise.all(health.map(async (u) => {
        const r = await fetch(u, { signal: AbortSignal.timeout(1000) });
        await r.arrayBuffer();
        return r.status;
      }));
      return codes.every((c) => c === 200);
    },
  });
  return {
    url: `http://127.0.0.1:${publicPort}`,
    adminUrl,
    logs: svc.logs,
    stop: svc.stop,
  };
}

/** registerClient creates an OAuth client with a chosen id through Hydra's admin API. */
export async function registerClient(adminUrl, metadata) {
  const res = await fetch(`${adminUrl}/admin/clients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(metadata),
  });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`Hydra admin POST /admin/clients (${metadata.client_id}) answered ${res.status}: ${body}`);
  return JSON.parse(body);
}

/**
 * HYDRA_CLIENTS are the Hydra-only clients of a Hydra world, registered with
 * the same id, secret and redirect URI in Hydra and in the gateway:
 *   basic  client_secret_basic, JARM with the default alg (RS256)
 *   conf   client_secret_basic, require_pushed_authorization_requests in the gateway
 *   logout client_secret_basic, with post_logout_redirect_uris,
 *          frontchannel_logout_uri and backchannel_logout_uri at Hydra only
 *          (the gateway's registry has no logout fields)
 * Next to them a Hydra world registers every client of e2e/lib/fixtures.mjs
 * (CLIENTS), so the shared gateway scenarios run unchanged.
 */
export const HYDRA_CLIENTS = Object.freeze({ basic: 'hydra-basic', conf: 'conf', logout: 'hydra-logout' });

function hydraOnlyClients(callbackBase) {
  const cb = (name) => `${callbackBase}/cb/${name}`;
  const secret = () => randomBytes(24).toString('base64url');
  return {
    [HYDRA_CLIENTS.basic]: { id: HYDRA_CLIENTS.basic, secret: secret(), authMethod: 'client_secret_basic', redirectUri: cb('basic') },
    [HYDRA_CLIENTS.conf]: { id: HYDRA_CLIENTS.conf, secret: secret(), authMethod: 'client_secret_basic', redirectUri: cb('conf'), requirePar: true },
    [HYDRA_CLIENTS.logout]: {
      id: HYDRA_CLIENTS.logout,
      secret: secret(),
      authMethod: 'client_secret_basic',
      redirectUri: cb('logout'),
      postLogoutRedirectUri: cb('logout-done'),
      frontchannelLogoutUri: cb('frontchannel'),
      backchannelLogoutUri: `${callbackBase}/backchannel/${HYDRA_CLIENTS.logout}`,
    },
  };
}

/** hydraClientMetadata is Hydra's registration (POST /admin/clients) of a fixture client. */
export function hydraClientMetadata(c) {
  const responseTypes = c.responseTypes ?? ['code'];
  const m = {
    client_id: c.id,
    token_endpoint_auth_method: c.authMethod,
    redirect_uris: [c.redirectUri],
    response_types: responseTypes,
    grant_types: responseTypes.some((t) => t.includes('id_token')) ? ['authorization_code', 'implicit', 'refresh_token'] : ['authorization_code', 'refresh_token'],
    scope: 'openid offline_access email profile',
  };
  if (c.secret) m.client_secret = c.secret;
  if (c.jwks) {
    m.jwks = c.jwks;
    m.token_endpoint_auth_signing_alg = 'ES256';
  }
  // OpenID Connect RP-Initiated, Front-Channel and Back-Channel Logout client metadata.
  if (c.postLogoutRedirectUri) m.post_logout_redirect_uris = [c.postLogoutRedirectUri];
  if (c.frontchannelLogoutUri) Object.assign(m, { frontchannel_logout_uri: c.frontchannelLogoutUri, frontchannel_logout_session_required: true });
  if (c.backchannelLogoutUri) Object.assign(m, { backchannel_logout_uri: c.backchannelLogoutUri, backchannel_logout_session_required: true });
  return m;
}

/** gatewayClient is the gateway's registration (PARJARM_CLIENTS_FILE) of a Hydra-only client. */
function gatewayClient(c) {
  return {
    client_id: c.id,
    client_secret: c.secret,
    token_endpoint_auth_method: c.authMethod,
    redirect_uris: [c.redirectUri],
    par_lifetime: 60,
    ...(c.requirePar ? { require_pushed_authorization_requests: true } : {}),
  };
}

/**
 * hydraUser returns the user agent of a Hydra world. Hydra's login app
 * shows no pages: it signs SUBJECT in and consents on its own, unless
 * decision is 'deny', then the agent adds DENY to the consent URL (the user
 * refusing). route (optional) is UserAgent's route, applied first.
 */
export function hydraUser(loginAppUrl, { decision = 'allow', route, ...opts } = {}) {
  const inner = route ?? ((u) => u);
  return new UserAgent({
    ...opts,
    route: (url, hop) => {
      const u = new URL(inner(url, hop));
      if (decision === 'deny' && u.origin === loginAppUrl && u.pathname === '/consent') u.searchParams.set(DENY.name, DENY.value);
      return u.href;
    },
  });
}

/**
 * startHydraWorld starts the callback server, a database, the login app,
 * Hydra and gateway replicas in front of it (a signing key file; the memory
 * store, or with redis a private redis-server shared by the replicas).
 *
 * options: gateways (default 1), redis, gatewayEnv, log, remember (the
 * login app asks Hydra to remember logins and consents; see startLoginApp).
 *
 * Resolves to the world interface the shared scenarios use (as startWorld
 * does): { issuer, upstreamUrl, gateway, gateways, redis?,
 * callback, clients, subject, plainResponseKeys, user(opts),
 * interactions(agent), logs(), close() }, plus { hydra, loginApp, database }.
 */
export async function startHydraWorld({ gateways = 1, redis = false, gatewayEnv = {}, log, remember = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'parjarm-e2e-hydra-'));
  const started = [];
  // close stops everything even when a step fails, then reports the
  // failures (a database left behind is worth a red test).
  const close = async () => {
    const errors = [];
    for (const s of started.reverse()) {
      await s().catch((err) => errors.push(err));
    }
    started.length = 0;
    rmSync(dir, { recursive: true, force: true });
    if (errors.length) throw new AggregateError(errors, `stopping the Hydra world: ${errors.map((e) => e.message).join('; ')}`);
  };
  try {
    const callback = await startCallbackServer();
    started.push(() => callback.close());
    const ports = [];
    for (let i = 0; i < Math.max(gateways, 1); i++) ports.push({ port: await freePort(), admin: await freePort() });
    const issuer = `http://127.0.0.1:${ports[0].port}`;

    const db = await createDatabase();
    started.push(() => db.drop());

    const hydraAdminPort = await freePort();
    const loginLog = [];
    const loginApp = await startLoginApp({
      adminUrl: () => `http://127.0.0.1:${hydraAdminPort}`,
      remember,
      log: (l) => {
        loginLog.push(l);
        log?.(`[login-app] ${l}`);
      },
    });
    started.push(() => loginApp.close());

    const hydra = await startHydra({
      dsn: db.dsn,
      issuer,
      loginUrl: loginApp.loginUrl,
      consentUrl: loginApp.consentUrl,
      logoutUrl: loginApp.logoutUrl,
      adminPort: hydraAdminPort,
      log: log ? (l) => log(`[hydra] ${l}`) : undefined,
    });
    started.push(() => hydra.stop());

    const shared = await makeWorldConfig(callback.url);
    // Hydra (fosite) accepts a private_key_jwt assertion at its token
    // endpoint only when aud names that endpoint's URL (RFC 7523 section 3
    // also allows the issuer, which oauth4webapi sends): the client sets it.
    for (const c of Object.values(shared.clients)) if (c.authMethod === 'private_key_jwt') c.tokenAssertionAudience = 'token_endpoint';
    const own = hydraOnlyClients(callback.url);
    const clients = { ...shared.clients, ...own };
    for (const c of Object.values(clients)) await registerClient(hydra.adminUrl, hydraClientMetadata(c));
    const clientsFile = join(dir, 'clients.json');
    writeFileSync(clientsFile, JSON.stringify({ clients: [...shared.gateway.clients, ...Object.values(own).map(gatewayClient)] }, null, 2));
    const signingKeysFile = join(dir, 'signing-keys.json');
    writeFileSync(signingKeysFile, JSON.stringify(signingKeys(), null, 2), { mode: 0o600 });

    let redisServer;
    if (redis) {
      redisServer = await startRedis();
      started.push(() => redisServer.stop());
    }

    const gws = await startReplicas(gateways, ports, {
      upstreamUrl: hydra.url,
      issuer,
      clientsFile,
      signingKeysFile,
      redisUrl: redisServer?.url,
      env: gatewayEnv,
      log,
      started,
    });

    return {
      issuer,
      upstreamUrl: hydra.url,
      gateway: gws[0],
      gateways: gws,
      redis: redisServer,
      hydra,
      loginApp,
      callback,
      clients,
      subject: SUBJECT,
      // What Hydra's plain code response carries (no RFC 9207 iss).
      plainResponseKeys: ['code', 'scope', 'state'],
      user: (opts) => hydraUser(loginApp.url, opts),
      // The login app's pages this agent's last authorize visited.
      interactions: (agent) => agent.history.slice(agent.authorizeStart ?? 0)
        .map((h) => new URL(h.url))
        .filter((u) => u.origin === loginApp.url)
        .map((u) => u.pathname.slice(1)),
      database: db.name,
      logs: () => [
        `--- hydra ---\n${hydra.logs().split('\n').slice(-40).join('\n')}`,
        `--- login app ---\n${loginLog.slice(-20).join('\n')}`,
        ...gws.map((g) => `--- ${g.name} ---\n${g.logs().split('\n').slice(-60).join('\n')}`),
      ].join('\n'),
      close,
    };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}
