// Issue 12, "Beyond the peers": PKCE and code binding at the token endpoint
// for an upstream that lacks PKCE, and exact redirect URIs for plain
// requests. The upstream is oidc-provider configured as a server without
// PKCE (upstream.mjs withoutPKCE: it never sees code_challenge or
// code_verifier and advertises no code_challenge_methods_supported), so it
// redeems any code of its own without a verifier: what refuses a wrong one
// is the gateway, as the `off` world shows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { authorizationUrl, discover, newRequest, oauth, OPTS, redeem, rpClient, validateJarm, clientAuth } from '../lib/client.mjs';
import { CLIENTS } from '../lib/fixtures.mjs';
import { assertGatewayFronts, parFlow } from '../lib/flows.mjs';
import { startWorld } from '../lib/world.mjs';

const WRONG_VERIFIER = 'w'.repeat(43);

/** jarmCode runs a PAR + JARM (response_mode=jwt) + PKCE flow and returns the validated callback parameters. */
async function jarmCode(as, c) {
  const flow = await parFlow(as, c, { response_mode: 'jwt' });
  assert.equal(flow.result.kind, 'redirect', `flow ended on ${flow.result.kind} ${flow.result.status}: ${flow.result.html?.slice(0, 300)}`);
  const params = await validateJarm(as, c, flow.result.url.searchParams, flow.req.state);
  assert.ok(params.get('code'), 'the JARM response carries a code');
  return { params, req: flow.req };
}

/** tokenRequest redeems params' code as client c with verifier and redirectUri, and returns { status, body, headers }. */
async function tokenRequest(as, c, params, { verifier, redirectUri = c.redirectUri } = {}) {
  const res = await oauth.authorizationCodeGrantRequest(as, rpClient(c), clientAuth(c), params, redirectUri, verifier ?? oauth.nopkce, OPTS);
  return { status: res.status, body: await res.json(), headers: res.headers };
}

function assertGatewayRefused(r, description) {
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error, 'invalid_grant');
  // The gateway's own description: the upstream never saw the request.
  assert.match(r.body.error_description, description);
  assert.equal(r.headers.get('cache-control'), 'no-store');
}

/** userinfoStatus is the status of the upstream's userinfo endpoint (through the gateway) for accessToken. */
async function userinfoStatus(as, c, accessToken) {
  const res = await oauth.userInfoRequest(as, rpClient(c), accessToken, OPTS);
  await res.arrayBuffer();
  return res.status;
}

function worldFor(env) {
  const state = {};
  before(async () => {
    state.world = await startWorld({ gateways: 1, upstreamPKCE: false, gatewayEnv: env });
    state.as = await discover(state.world.issuer);
    assertGatewayFronts(state.as, state.world.issuer);
  });
  after(async () => {
    await state.world?.close();
  });
  state.withLogs = (fn) => async (t) => {
    try {
      await fn(t);
    } catch (err) {
      if (state.world) t.diagnostic(state.world.logs());
      throw err;
    }
  };
  return state;
}

describe('an upstream without PKCE, PARJARM_TOKEN_ENDPOINT_PKCE=enforce', () => {
  const s = worldFor({ PARJARM_TOKEN_ENDPOINT_PKCE: 'enforce' });
  const C = (id) => s.world.clients[id];

  test('the upstream itself advertises no PKCE; the gateway advertises S256', s.withLogs(async () => {
    const up = await (await fetch(`${s.world.upstream.url}/.well-known/openid-configuration`)).json();
    assert.equal(up.code_challenge_methods_supported, undefined);
    assert.deepEqual(s.as.code_challenge_methods_supported, ['S256']);
  }));

  test('oauth4webapi completes PAR + JARM + PKCE and redeems the code with the right verifier', s.withLogs(async () => {
    const c = C(CLIENTS.basic);
    const { params, req } = await jarmCode(s.as, c);
    const { tokens, claims } = await redeem(s.as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    assert.ok(tokens.access_token);
    assert.equal(claims.aud, c.id);
  }));

  test('a public client (none) completes the flow too', s.withLogs(async () => {
    const c = C(CLIENTS.public);
    const { params, req } = await jarmCode(s.as, c);
    const { tokens } = await redeem(s.as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    assert.ok(tokens.access_token);
  }));

  test('a wrong code_verifier is refused by the gateway with 400 invalid_grant', s.withLogs(async () => {
    const c = C(CLIENTS.basic);
    const { params, req } = await jarmCode(s.as, c);
    assertGatewayRefused(await tokenRequest(s.as, c, params, { verifier: WRONG_VERIFIER }), /code_verifier does not match/);
    // The code is spent at the gateway: the right verifier afterwards is refused too.
    assertGatewayRefused(await tokenRequest(s.as, c, params, { verifier: req.codeVerifier }), /already used/);
  }));

  test('a missing code_verifier is refused with 400 invalid_grant', s.withLogs(async () => {
    const c = C(CLIENTS.basic);
    const { params } = await jarmCode(s.as, c);
    assertGatewayRefused(await tokenRequest(s.as, c, params), /code_verifier is required/);
  }));

  test('a code redeemed by another client is refused with 400 invalid_grant', s.withLogs(async () => {
    const { params, req } = await jarmCode(s.as, C(CLIENTS.basic));
    assertGatewayRefused(await tokenRequest(s.as, C(CLIENTS.hybrid), params, { verifier: req.codeVerifier, redirectUri: C(CLIENTS.hybrid).redirectUri }), /issued to another client/);
  }));

  test('a code redeemed with another redirect_uri is refused with 400 invalid_grant', s.withLogs(async () => {
    const c = C(CLIENTS.basic);
    const { params, req } = await jarmCode(s.as, c);
    assertGatewayRefused(await tokenRequest(s.as, c, params, { verifier: req.codeVerifier, redirectUri: `${c.redirectUri}/other` }), /redirect_uri does not match/);
  }));

  test('a code redeemed a second time is refused with 400 invalid_grant', s.withLogs(async () => {
    const c = C(CLIENTS.basic);
    const { params, req } = await jarmCode(s.as, c);
    const first = await tokenRequest(s.as, c, params, { verifier: req.codeVerifier });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assertGatewayRefused(await tokenRequest(s.as, c, params, { verifier: req.codeVerifier }), /already used/);
  }));

  test('a replay is refused by the gateway and still reaches the upstream, which revokes the first redemption\'s tokens (RFC 6749, section 4.1.2)', s.withLogs(async () => {
    const c = C(CLIENTS.basic);
    const { params, req } = await jarmCode(s.as, c);
    const first = await tokenRequest(s.as, c, params, { verifier: req.codeVerifier });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(await userinfoStatus(s.as, c, first.body.access_token), 200);
    assertGatewayRefused(await tokenRequest(s.as, c, params, { verifier: req.codeVerifier }), /already used/);
    assert.equal(await userinfoStatus(s.as, c, first.body.access_token), 401, 'the upstream revoked the grant');
  }));

  test('a refresh token grant passes through untouched', s.withLogs(async () => {
    const c = C(CLIENTS.basic);
    const flow = await parFlow(s.as, c, { response_mode: 'jwt', scope: 'openid offline_access', prompt: 'consent' });
    const params = await validateJarm(s.as, c, flow.result.url.searchParams, flow.req.state);
    const { tokens } = await redeem(s.as, c, params, { codeVerifier: flow.req.codeVerifier, nonce: flow.req.nonce });
    assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
    const res = await oauth.refreshTokenGrantRequest(s.as, rpClient(c), clientAuth(c), tokens.refresh_token, OPTS);
    const refreshed = await oauth.processRefreshTokenResponse(s.as, rpClient(c), res);
    assert.ok(refreshed.access_token);
  }));

  test('a plain request of a registered client with a loose redirect_uri gets the gateway error page', s.withLogs(async () => {
    const c = C(CLIENTS.basic);
    const cb = new URL(c.redirectUri);
    for (const variant of [
      `${cb.protocol}//evil@${cb.host}${cb.pathname}`,
      `${cb.protocol}//${cb.hostname}:${Number(cb.port) + 1}${cb.pathname}`,
      c.redirectUri.toUpperCase(),
      `${c.redirectUri}/x`,
      `${c.redirectUri}?x=1`,
    ]) {
      const { params } = await newRequest(c, { redirect_uri: variant });
      const res = await fetch(authorizationUrl(s.as, params), { redirect: 'manual' });
      const html = await res.text();
      assert.equal(res.status, 400, variant);
      assert.equal(res.headers.get('location'), null, `${variant}: never a redirect`);
      assert.match(html, /<dd id="error">invalid_request<\/dd>/, `${variant}: the gateway's page, not the upstream's`);
    }
  }));
});

describe('an upstream without PKCE, PARJARM_TOKEN_ENDPOINT_PKCE=auto (the default)', () => {
  const s = worldFor({});
  test('auto enforces: S256 is advertised and a wrong verifier is refused', s.withLogs(async () => {
    assert.deepEqual(s.as.code_challenge_methods_supported, ['S256']);
    const c = s.world.clients[CLIENTS.basic];
    const { params } = await jarmCode(s.as, c);
    assertGatewayRefused(await tokenRequest(s.as, c, params, { verifier: WRONG_VERIFIER }), /code_verifier does not match/);
  }));
});

describe('an upstream without PKCE, PARJARM_TOKEN_ENDPOINT_PKCE=off', () => {
  const s = worldFor({ PARJARM_TOKEN_ENDPOINT_PKCE: 'off' });
  test('the wrong verifier reaches the upstream, which redeems the code: the gateway is what protects', s.withLogs(async () => {
    assert.equal(s.as.code_challenge_methods_supported, undefined);
    const c = s.world.clients[CLIENTS.basic];
    const { params } = await jarmCode(s.as, c);
    const r = await tokenRequest(s.as, c, params, { verifier: WRONG_VERIFIER });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.body.access_token);
  }));

  test('the upstream refuses a replayed code itself and revokes the grant (RFC 6749, section 4.1.2)', s.withLogs(async () => {
    const c = s.world.clients[CLIENTS.basic];
    const { params } = await jarmCode(s.as, c);
    const first = await tokenRequest(s.as, c, params);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(await userinfoStatus(s.as, c, first.body.access_token), 200);
    const again = await tokenRequest(s.as, c, params);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
    assert.equal(again.body.error_description, 'grant request is invalid', 'oidc-provider\'s own answer');
    assert.equal(await userinfoStatus(s.as, c, first.body.access_token), 401, 'the first redemption\'s access token is revoked');
  }));
});
