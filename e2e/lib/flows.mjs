// Flow helpers shared by the gateway scenarios and the demo: one PAR or
// plain authorization request run by the scripted user agent, and checks of
// how a JARM response was delivered.
import assert from 'node:assert/strict';

import { UserAgent } from '../agent.mjs';
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
