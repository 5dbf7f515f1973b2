// The peer of bench/compare: node oidc-provider with its own Pushed
// Authorization Requests (RFC 9126) and JWT response modes (JARM) turned on,
// the same client as the gateway's (client_secret_basic, JARM ES256), and a
// grant given without a consent screen (loadExistingGrant), so that a
// signed-in user's authorization request redirects straight back. The
// driver signs in once (the login form) and reuses the session cookie.
//
// Usage: node bench/compare/peer.mjs --port P --client-id ID --client-secret S --redirect-uri URI
// It prints "listening <url>" on stdout once it accepts connections.
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';

import { buildProvider } from '../../e2e/upstream.mjs';
import { USER } from '../../e2e/lib/fixtures.mjs';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
  },
});
const issuer = `http://127.0.0.1:${values.port}`;
const jwks = {
  keys: [
    { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'peer-es256', alg: 'ES256', use: 'sig' },
    // oidc-provider signs ID tokens with RS256 by default and wants a key for it.
    { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'peer-rs256', alg: 'RS256', use: 'sig' },
  ],
};
const clients = [{
  client_id: values['client-id'],
  client_secret: values['client-secret'],
  token_endpoint_auth_method: 'client_secret_basic',
  redirect_uris: [values['redirect-uri']],
  response_types: ['code'],
  grant_types: ['authorization_code'],
  authorization_signed_response_alg: 'ES256',
}];
// MapAdapter keeps every model in one process-local Map until it expires.
// oidc-provider's bundled memory adapter is an LRU of 1000 entries: under
// load the pushed requests and codes evict the signed-in session, and its
// grant index grows with every code. This is the fastest store the peer can
// have (no round trip), which favours the peer: the gateway runs on Redis.
const entries = new Map(); // `${model}:${id}` -> { payload, expiresAt }
const uids = new Map(); // session uid -> `Session:${id}`
const now = () => Date.now();
setInterval(() => {
  const t = now();
  for (const [k, e] of entries) if (e.expiresAt <= t) entries.delete(k);
}, 5000).unref();
class MapAdapter {
  constructor(model) { this.model = model; }
  key(id) { return `${this.model}:${id}`; }
  async upsert(id, payload, expiresIn) {
    entries.set(this.key(id), { payload, expiresAt: expiresIn ? now() + expiresIn * 1000 : Infinity });
    if (payload.uid) uids.set(payload.uid, this.key(id));
  }
  async find(id) {
    const e = entries.get(this.key(id));
    if (!e || e.expiresAt <= now()) return undefined;
    return e.payload;
  }
  async findByUid(uid) {
    const k = uids.get(uid);
    const e = k && entries.get(k);
    if (!e || e.expiresAt <= now()) return undefined;
    return e.payload;
  }
  async findByUserCode() { return undefined; }
  async consume(id) {
    const e = entries.get(this.key(id));
    if (e) e.payload.consumed = Math.floor(now() / 1000);
  }
  async destroy(id) { entries.delete(this.key(id)); }
  async revokeByGrantId(grantId) {
    for (const [k, e] of entries) if (e.payload.grantId === grantId) entries.delete(k);
  }
}

const provider = buildProvider({
  issuer,
  clients,
  jwks,
  features: {
    pushedAuthorizationRequests: { enabled: true },
    jwtResponseModes: { enabled: true },
  },
  config: {
    adapter: MapAdapter,
    // The user has consented before: the grant exists (oidc-provider's
    // documented way of skipping consent for a first-party client).
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid');
      await grant.save();
      return grant;
    },
  },
});
const callback = provider.callback();

// The login form's post: the only interaction, done once before the run.
const server = createServer(async (req, res) => {
  const m = req.url.match(/^\/interaction\/([^/?]+)\/login$/);
  if (!m || req.method !== 'POST') {
    if (req.url.startsWith('/interaction/')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('sign in by POST /interaction/<uid>/login');
      return;
    }
    callback(req, res);
    return;
  }
  try {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    if (form.get('username') !== USER.username || form.get('password') !== USER.password) {
      res.writeHead(403).end('bad credentials');
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: USER.sub } }, { mergeWithLastSubmission: false });
  } catch (err) {
    if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' }).end(`${err.name}: ${err.message}`);
  }
});
server.keepAliveTimeout = 5000;
server.listen(Number(values.port), '127.0.0.1', () => console.log(`listening ${issuer}`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
