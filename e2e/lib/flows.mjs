// Flow helpers shared by the gateway scenarios and the demo: one PAR or
// plain authorization request run by the scripted user agent, and checks of
// how a JARM response was delivered.
import assert from 'node:assert/strict';
import { constants, createPublicKey, verify } from 'node:crypto';

import { parseForms, UserAgent } from '../agent.mjs';
import { authorizationUrl, decodeJwt, newRequest, push } from './client.mjs';
import { USER } from './fixtures.mjs';

/**
 * Secrets collects every secret value a run handles (client secrets,
 * request_uris, codes, tokens, JARM JWTs) so a test can prove none of them
 * reached the gateway's log.
 */
export class Secrets {
  values = new Map(); // value -> what it is

  add(what, value) {
    if (typeof value === 'string' && value.length >= 8) this.values.set(value, what);
  }

  /** addParams records code, tokens and a JARM response from parameters. */
  addParams(params) {
    for (const k of ['code', 'access_token', 'id_token', 'refresh_token', 'response']) {
      for (const v of params.getAll(k)) this.add(k, v);
    }
  }

  /** leaks returns [{what, value}] for each recorded secret found in text. */
  leaks(text) {
    const out = [];
    for (const [value, what] of this.values) {
      if (text.includes(value)) out.push({ what, value: `${value.slice(0, 12)}…` });
    }
    return out;
  }
}

/**
 * assertGatewayFronts fails with a clear message when the discovery document
 * served through the gateway sends clients past it, straight to the upstream
 * (its authorization or token endpoint on another origin): every flow would
 * then bypass the gateway and fail for that reason alone.
 */
export function assertGatewayFronts(as, issuer) {
  const origin = new URL(issuer).origin;
  for (const ep of ['authorization_endpoint', 'token_endpoint']) {
    assert.equal(new URL(as[ep]).origin, origin, `precondition: discovery through the gateway names ${ep} ${as[ep]}, not on the gateway's origin ${origin}: clients would bypass the gateway`);
  }
}

/**
 * logsOnFailure returns withLogs(fn, { flow = true }), which wraps a test
 * body: it first asserts that the gateway fronts the flow
 * (assertGatewayFronts; flow false skips that), and when the body fails it
 * prints the world's last log lines. state() returns { world, as } when the
 * test runs (both are set in a before hook).
 */
export function logsOnFailure(state) {
  return (fn, { flow = true } = {}) => async (t) => {
    const { world, as } = state();
    try {
      if (flow) assertGatewayFronts(as, world.issuer);
      await fn(t);
    } catch (err) {
      if (world) t.diagnostic(world.logs());
      throw err;
    }
  };
}

/**
 * parFlow pushes a fresh request for client c (extra overrides parameters),
 * then runs the authorization with only client_id + request_uri.
 * Returns { req, pushed, authUrl, agent, result }.
 */
export async function parFlow(as, c, extra = {}, { agent, secrets, pushParams, pushOptions } = {}) {
  const req = await newRequest(c, extra);
  const pushed = await push(as, c, pushParams ? await pushParams(req.params) : req.params, pushOptions);
  secrets?.add('request_uri', pushed.request_uri);
  const authUrl = authorizationUrl(as, { client_id: c.id, request_uri: pushed.request_uri });
  const ua = agent ?? new UserAgent({ username: USER.username, password: USER.password });
  const result = await ua.authorize(authUrl, c.redirectUri);
  recordResult(result, secrets);
  return { req, pushed, authUrl, agent: ua, result };
}

/**
 * plainFlow runs an authorization request carrying all its parameters in the
 * query (no PAR). Returns { req, authUrl, agent, result }.
 */
export async function plainFlow(as, c, extra = {}, { agent, secrets } = {}) {
  const req = await newRequest(c, extra);
  const authUrl = authorizationUrl(as, req.params);
  const ua = agent ?? new UserAgent({ username: USER.username, password: USER.password });
  const result = await ua.authorize(authUrl, c.redirectUri);
  recordResult(result, secrets);
  return { req, authUrl, agent: ua, result };
}

function recordResult(result, secrets) {
  if (!secrets) return;
  if (result.kind === 'redirect') {
    secrets.addParams(result.url.searchParams);
    secrets.addParams(new URLSearchParams(result.url.hash.slice(1)));
  } else if (result.kind === 'form_post') {
    secrets.addParams(result.params);
  }
}

/**
 * expectJarmDelivery asserts that the agent result delivers a JARM response
 * the way `base` (query, fragment or form_post) must, with nothing but
 * `response` next to the redirect_uri's own query (JARM section 2.3), and
 * returns the URLSearchParams holding `response`.
 */
export function expectJarmDelivery(result, base, redirectUri, { requireCsp = true } = {}) {
  if (base === 'form_post') {
    assert.equal(result.kind, 'form_post', `expected an auto-submitting form page, got ${result.kind} ${result.status} ${result.url?.href ?? ''}`);
    assert.equal(result.status, 200);
    assert.equal(result.action, redirectUri);
    assert.match(result.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(result.headers.get('cache-control') ?? '', /no-store/);
    if (requireCsp) assert.ok(result.headers.get('content-security-policy'), 'the auto-submit page sets a Content-Security-Policy');
    assert.deepEqual([...result.params.keys()], ['response']);
    return result.params;
  }
  assert.equal(result.kind, 'redirect', `expected a redirect to the client, got ${result.kind} ${result.status}: ${result.html?.slice(0, 400) ?? ''}`);
  assert.ok([302, 303].includes(result.status), `redirect status ${result.status}`);
  assert.equal(`${result.url.origin}${result.url.pathname}`, redirectUri);
  if (base === 'query') {
    assert.deepEqual([...result.url.searchParams.keys()], ['response'], `query of ${result.location}`);
    assert.equal(result.url.hash, '');
    return result.url.searchParams;
  }
  assert.equal(result.url.search, '', 'nothing in the query for fragment.jwt');
  const frag = new URLSearchParams(result.url.hash.slice(1));
  assert.deepEqual([...frag.keys()], ['response'], `fragment of ${result.location}`);
  return frag;
}

/**
 * expectJarmClaims checks the JARM JWT's header and registered claims
 * (JARM section 2.1) and returns { header, payload }.
 */
export function expectJarmClaims(jwt, { issuer, clientId, alg, jwks }) {
  const { header, payload } = decodeJwt(jwt);
  assert.equal(header.alg, alg);
  assert.ok(header.kid, 'JARM header has a kid');
  if (jwks) assert.ok(jwks.keys.some((k) => k.kid === header.kid), `kid ${header.kid} is published in the gateway's jwks_uri`);
  assert.equal(payload.iss, issuer);
  assert.equal(payload.aud, clientId);
  const now = Math.floor(Date.now() / 1000);
  assert.equal(typeof payload.exp, 'number');
  assert.ok(payload.exp > now + 10 && payload.exp <= now + 600 + 5, `exp ${payload.exp - now}s ahead`);
  if (payload.iat !== undefined) assert.ok(Math.abs(payload.iat - now) <= 30, 'iat is now');
  return { header, payload };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * rpLogout runs an RP-initiated logout (OpenID Connect RP-Initiated Logout
 * 1.0) in the agent's browser session: it GETs url (the end_session_endpoint
 * with its parameters), follows redirects, and on a page with a POST form
 * submits the form's hidden inputs plus its `logout=yes` button when there is
 * one (oidc-provider's confirmation page and its auto-submitting form). It
 * stops at the first redirect whose target starts with returnTo and resolves
 * to { kind: 'redirect', url: URL, status, location, pages } or
 * { kind: 'page', status, url, html, pages }; pages lists the URLs of the
 * forms it submitted.
 */
export async function rpLogout(agent, url, returnTo, { maxHops = 15 } = {}) {
  const pages = [];
  let next = { url: String(url), method: 'GET' };
  for (let i = 0; i < maxHops; i++) {
    const res = await agent.request(next.url, next);
    const current = next.url;
    if (REDIRECTS.has(res.status)) {
      await res.arrayBuffer();
      const loc = res.headers.get('location');
      if (!loc) throw new Error(`${res.status} without Location from ${current}`);
      const target = new URL(loc, current);
      if (target.href.startsWith(returnTo)) return { kind: 'redirect', url: target, status: res.status, location: loc, pages };
      next = { url: target.href, method: 'GET' };
      continue;
    }
    const html = await res.text();
    const forms = res.status === 200 && /html/i.test(res.headers.get('content-type') ?? '') ? parseForms(html) : [];
    const form = forms.find((f) => f.method === 'POST' && f.action);
    if (!form) return { kind: 'page', status: res.status, url: current, html, pages };
    pages.push(current);
    const fields = {};
    for (const f of form.fields) if (f.tag === 'input' && f.type === 'hidden' && f.name) fields[f.name] = f.value;
    const yes = form.fields.find((f) => f.type === 'submit' && f.name === 'logout');
    if (yes) fields.logout = yes.value;
    next = { url: new URL(form.action, current).href, method: 'POST', form: fields };
  }
  throw new Error(`logout: no redirect to ${returnTo} after ${maxHops} hops: ${agent.history.slice(-maxHops).map((h) => `${h.method} ${h.url} ${h.status}`).join(' | ')}`);
}

/**
 * verifyJws verifies a compact JWS's signature against the key of a JWK set
 * named by its header's kid (RS256, PS256, ES256, EdDSA) and returns
 * { header, payload }; it throws when the key is missing or the signature is
 * wrong. Claims are the caller's to check.
 */
export function verifyJws(jws, jwks) {
  const [h, p, sig] = jws.split('.');
  const { header, payload } = decodeJwt(jws);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no key ${header.kid} in the key set (${jwks.keys.map((k) => k.kid).join(', ')})`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(sig, 'base64url');
  const ok = {
    RS256: () => verify('sha256', data, key, signature),
    PS256: () => verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature),
    ES256: () => verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature),
    EdDSA: () => verify(null, data, key, signature),
  }[header.alg]?.();
  if (ok === undefined) throw new Error(`unsupported alg ${header.alg}`);
  if (!ok) throw new Error(`bad ${header.alg} signature (kid ${header.kid})`);
  return { header, payload };
}
