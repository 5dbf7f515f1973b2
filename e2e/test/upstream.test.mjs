// The legacy upstream ALONE, without the gateway: it has neither PAR nor
// JARM, so everything the gateway scenarios show is the gateway's doing. The
// scripted user agent is checked against it here too (a plain code flow, the
// deny path, the hybrid response type), and the upstream behaviours the
// gateway relies on are pinned down: how the upstream re-enters its
// authorization endpoint after login, what it puts in Location, `iss`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { UserAgent } from '../agent.mjs';
import { startCallbackServer } from '../lib/callback.mjs';
import { authorizationUrl, discover, newRequest, oauth, OPTS, redeem, rpClient } from '../lib/client.mjs';
import { CLIENTS, makeWorldConfig, USER } from '../lib/fixtures.mjs';
import { freePort } from '../lib/net.mjs';
import { startUpstream } from '../upstream.mjs';

const JWT_MODES = ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'];

describe('legacy upstream without the gateway', () => {
  let cb;
  let up;
  let cfg;
  let issuer;
  let as; // the upstream's metadata, fetched straight from the upstream
  const upstreamLog = [];

  before(async () => {
    cb = await startCallbackServer();
    cfg = await makeWorldConfig(cb.url);
    // The issuer is the (absent) gateway's public URL, as in every scenario.
    issuer = `http://127.0.0.1:${await freePort()}`;
    up = await startUpstream({ issuer, clients: cfg.upstream, log: (l) => upstreamLog.push(l) });
    // Discovery is served by the upstream itself; its issuer is the gateway URL.
    as = await discover(issuer, {
      ...OPTS,
      [oauth.customFetch]: (url, init) => fetch(new URL(new URL(url).pathname, up.url), init),
    });
  });

  after(async () => {
    await up?.close();
    await cb?.close();
  });

  test('its discovery advertises neither PAR nor JWT response modes', () => {
    assert.equal(as.issuer, issuer);
    assert.equal(as.pushed_authorization_request_endpoint, undefined);
    assert.equal(as.require_pushed_authorization_requests, undefined);
    assert.equal(as.authorization_signing_alg_values_supported, undefined);
    assert.deepEqual([...as.response_modes_supported].sort(), ['form_post', 'fragment', 'query']);
    for (const m of JWT_MODES) assert.ok(!as.response_modes_supported.includes(m), `${m} must not be advertised`);
    // What the legacy server does support, which the gateway builds on:
    assert.deepEqual(as.response_types_supported, ['code', 'code id_token', 'id_token', 'none']);
    assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
    assert.equal(as.authorization_response_iss_parameter_supported, true);
    assert.equal(as.request_uri_parameter_supported, false);
  });

  test('it has no PAR endpoint: a push to /par (or any PAR-like path) is 404 and yields no request_uri', async () => {
    const c = cfg.clients[CLIENTS.basic];
    const { params } = await newRequest(c);
    for (const path of ['/par', '/request', '/auth/par', '/oauth/par']) {
      const res = await fetch(new URL(path, up.url), {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams(params),
      });
      const body = await res.text();
      assert.equal(res.status, 404, `POST ${path}`);
      assert.ok(!body.includes('request_uri'), `POST ${path} answered ${body}`);
    }
    // oauth4webapi refuses to push at all without the metadata.
    await assert.rejects(
      oauth.pushedAuthorizationRequest(as, rpClient(c), oauth.ClientSecretBasic(c.secret), params, OPTS),
      (err) => err.code === 'OAUTH_MISSING_SERVER_METADATA',
    );
  });

  test('it rejects a request_uri at its authorization endpoint with request_uri_not_supported', async () => {
    const c = cfg.clients[CLIENTS.basic];
    const url = new URL('/auth', up.url);
    url.searchParams.set('client_id', c.id);
    url.searchParams.set('request_uri', 'urn:ietf:params:oauth:request_uri:anything');
    const res = await fetch(url, { redirect: 'manual' });
    await res.arrayBuffer();
    assert.equal(res.status, 303);
    const loc = new URL(res.headers.get('location'));
    assert.equal(`${loc.origin}${loc.pathname}`, c.redirectUri);
    assert.equal(loc.searchParams.get('error'), 'request_uri_not_supported');
    assert.equal(loc.searchParams.get('code'), null);
  });

  for (const mode of JWT_MODES) {
    test(`it rejects response_mode=${mode} with unsupported_response_mode and issues no code`, async () => {
      const c = cfg.clients[CLIENTS.basic];
      const { params, state } = await newRequest(c, { response_mode: mode });
      const res = await fetch(authorizationUrl({ authorization_endpoint: new URL('/auth', up.url).href }, params), { redirect: 'manual' });
      await res.arrayBuffer();
      assert.equal(res.status, 303);
      const loc = new URL(res.headers.get('location'));
      assert.equal(`${loc.origin}${loc.pathname}`, c.redirectUri);
      assert.equal(loc.searchParams.get('error'), 'unsupported_response_mode');
      assert.equal(loc.searchParams.get('state'), state);
      assert.equal(loc.searchParams.get('response'), null);
      assert.equal(loc.searchParams.get('code'), null);
    });
  }

  test('the scripted user agent completes a plain code flow straight at the upstream, and the code is redeemed', async () => {
    const c = cfg.clients[CLIENTS.basic];
    const req = await newRequest(c);
    const agent = new UserAgent({ username: USER.username, password: USER.password });
    const result = await agent.authorize(authorizationUrl(as, req.params), c.redirectUri);
    assert.equal(result.kind, 'redirect');
    assert.deepEqual(agent.pages.map((p) => p.kind), ['login', 'consent']);

    // The upstream's behaviour the gateway must handle:
    // 1. every authorization response is a 303 whose Location is the
    //    redirect_uri with code, state and iss (RFC 9207) in the query;
    assert.equal(result.status, 303);
    const q = result.url.searchParams;
    assert.deepEqual([...q.keys()].sort(), ['code', 'iss', 'state']);
    assert.equal(q.get('iss'), issuer);
    assert.equal(q.get('state'), req.state);
    // 2. the interaction pages are reached by a relative Location
    //    (/interaction/<uid>), and after each form the upstream re-enters its
    //    authorization endpoint at /auth/<uid> (absolute URL built from the
    //    request's Host / X-Forwarded-Host), never by replaying the original
    //    query; the final redirect comes from that /auth/<uid> GET.
    const toInteraction = agent.history.find((h) => h.location?.startsWith('/interaction/'));
    assert.ok(toInteraction, 'a relative Location to /interaction/<uid>');
    const resumes = agent.history.filter((h) => h.method === 'GET' && /^\/auth\/[\w-]+$/.test(new URL(h.url).pathname));
    assert.equal(resumes.length, 2, 'one resume after login, one after consent');
    assert.ok(agent.history.some((h) => h.location === `${up.url}${new URL(resumes[0].url).pathname}`), 'resume Location is absolute, on the Host the browser used');
    assert.equal(agent.history.at(-1).url, resumes.at(-1).url);
    assert.ok(!agent.history.slice(1).some((h) => new URL(h.url).search.includes('response_type=')), 'the original query is never replayed');

    const params = oauth.validateAuthResponse(as, rpClient(c), q, req.state);
    const { tokens, claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(claims.iss, issuer);
    assert.equal(claims.sub, USER.sub);
    assert.equal(claims.aud, c.id);
  });

  test('pressing Deny finishes the interaction with access_denied and the original state', async () => {
    const c = cfg.clients[CLIENTS.basic];
    const req = await newRequest(c);
    const agent = new UserAgent({ username: USER.username, password: USER.password, decision: 'deny' });
    const result = await agent.authorize(authorizationUrl(as, req.params), c.redirectUri);
    assert.equal(result.kind, 'redirect');
    assert.deepEqual(agent.pages.map((p) => p.kind), ['login', 'consent']);
    const q = result.url.searchParams;
    assert.equal(q.get('error'), 'access_denied');
    assert.equal(q.get('state'), req.state);
    assert.equal(q.get('iss'), issuer);
    assert.equal(q.get('code'), null);
    assert.throws(() => oauth.validateAuthResponse(as, rpClient(c), q, req.state), (err) => err instanceof oauth.AuthorizationResponseError && err.error === 'access_denied');
  });

  test('a public client without PKCE is refused by the upstream (PKCE is required for public clients)', async () => {
    const c = cfg.clients[CLIENTS.public];
    const { params } = await newRequest(c, { code_challenge: undefined, code_challenge_method: undefined });
    const res = await fetch(authorizationUrl(as, params), { redirect: 'manual' });
    await res.arrayBuffer();
    assert.equal(res.status, 303);
    const loc = new URL(res.headers.get('location'));
    assert.equal(loc.searchParams.get('error'), 'invalid_request');
    assert.match(loc.searchParams.get('error_description'), /PKCE/);
  });

  test('the hybrid response type "code id_token" answers in the fragment with an ID Token and no iss parameter', async () => {
    const c = cfg.clients[CLIENTS.hybrid];
    const req = await newRequest(c, { response_type: 'code id_token' });
    const agent = new UserAgent({ username: USER.username, password: USER.password });
    const result = await agent.authorize(authorizationUrl(as, req.params), c.redirectUri);
    assert.equal(result.kind, 'redirect');
    assert.equal(result.url.search, '', 'nothing in the query');
    const frag = new URLSearchParams(result.url.hash.slice(1));
    assert.deepEqual([...frag.keys()].sort(), ['code', 'id_token', 'state']);
    // oidc-provider adds `iss` only when no ID Token is in the response, and
    // s_hash only under its FAPI 1.0 profile (not configured here).
    const params = await oauth.validateCodeIdTokenResponse(as, rpClient(c), frag, req.nonce, req.state, undefined, OPTS);
    const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    assert.equal(claims.sub, USER.sub);
  });
});
