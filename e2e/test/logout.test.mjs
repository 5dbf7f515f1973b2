// Logout and session management through the gateway (issue 8), in front of
// the legacy upstream (oidc-provider 9 with RP-Initiated Logout 1.0 and
// Back-Channel Logout 1.0 on). The gateway changes nothing on these paths:
// the end_session_endpoint and its confirmation are proxied untouched, the
// logout token goes from the upstream straight to the client, and the
// discovery document's logout members pass through.
//
// oidc-provider 9 implements neither Session Management (session_state,
// check_session_iframe) nor Front-Channel Logout (both removed in v8), so
// those are not exercised here; session_state carried inside JARM is covered
// by the Go tests (proxy/jarm_flow_test.go TestJARMModesAndResponseTypes,
// proxy/par_flow_test.go TestPARFlowDeliversTheUpstreamResponseWithTheClientsState,
// with a stand-in upstream that sends session_state=ss-1).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { UserAgent } from '../agent.mjs';
import { discover, redeem, validateJarm } from '../lib/client.mjs';
import { CLIENTS, USER } from '../lib/fixtures.mjs';
import { assertGatewayFronts, expectJarmClaims, expectJarmDelivery, parFlow, rpLogout, verifyJws } from '../lib/flows.mjs';
import { startWorld } from '../lib/world.mjs';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

describe('logout through the gateway (oidc-provider upstream)', () => {
  let world;
  let as;
  let jwks;
  const C = () => world.clients[CLIENTS.logout];
  const user = () => new UserAgent({ username: USER.username, password: USER.password });

  before(async () => {
    world = await startWorld({ gateways: 1 });
    as = await discover(world.issuer);
    jwks = await (await fetch(as.jwks_uri)).json();
  });

  after(async () => {
    await world?.close();
  });

  const withLogs = (fn) => async (t) => {
    try {
      assertGatewayFronts(as, world.issuer);
      await fn(t);
    } catch (err) {
      if (world) t.diagnostic(world.logs());
      throw err;
    }
  };

  // A PAR + JARM (query.jwt) login of the logout client, its code redeemed:
  // resolves to { agent, idToken, claims, payload } (payload: the JARM JWT's).
  async function login() {
    const c = C();
    const { req, result, agent } = await parFlow(as, c, { response_mode: 'query.jwt' }, { agent: user() });
    assert.deepEqual(agent.pages.map((p) => p.kind), ['login', 'consent']);
    const delivered = expectJarmDelivery(result, 'query', c.redirectUri);
    const { payload } = expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'RS256', jwks });
    const params = await validateJarm(as, c, delivered, req.state);
    const { tokens, claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    return { agent, idToken: tokens.id_token, claims, payload };
  }

  // A prompt=none PAR + JARM authorization in agent's session: resolves to
  // the JARM payload (a code while the upstream session lives, an error after).
  async function silentAuthorization(agent) {
    const c = C();
    const { req, result } = await parFlow(as, c, { response_mode: 'query.jwt', prompt: 'none' }, { agent });
    assert.deepEqual(agent.pages, [], 'prompt=none shows no login or consent page');
    const delivered = expectJarmDelivery(result, 'query', c.redirectUri);
    const { payload } = expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'RS256', jwks });
    assert.equal(payload.state, req.state);
    return payload;
  }

  function endSessionUrl(params) {
    const u = new URL(as.end_session_endpoint);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u;
  }

  test('discovery through the gateway carries the upstream\'s logout members unchanged, on the gateway\'s origin', withLogs(async () => {
    // The upstream's own document, asked for as the gateway asks (public Host).
    const own = await (await fetch(`${world.upstream.url}/.well-known/openid-configuration`, {
      headers: { 'x-forwarded-host': new URL(world.issuer).host, 'x-forwarded-proto': 'http' },
    })).json();
    assert.equal(own.issuer, world.issuer);
    assert.equal(as.end_session_endpoint, own.end_session_endpoint);
    assert.equal(new URL(as.end_session_endpoint).origin, world.issuer, `end_session_endpoint ${as.end_session_endpoint}`);
    for (const m of ['backchannel_logout_supported', 'backchannel_logout_session_supported']) {
      assert.equal(own[m], true, `the upstream advertises ${m}`);
      assert.equal(as[m], own[m], m);
    }
    // Not implemented by oidc-provider 9, and not invented by the gateway.
    for (const m of ['check_session_iframe', 'frontchannel_logout_supported', 'frontchannel_logout_session_supported']) {
      assert.equal(own[m], undefined, `the upstream has no ${m}`);
      assert.equal(as[m], undefined, `the gateway adds no ${m}`);
    }
  }));

  test('RP-initiated logout after a PAR + JARM login returns to post_logout_redirect_uri with the exact state, sends a verifiable logout token, and ends the upstream session', withLogs(async () => {
    const c = C();
    const { agent, idToken, claims, payload } = await login();
    assert.equal(claims.iss, world.issuer);
    assert.equal(typeof claims.sid, 'string', 'the ID Token carries sid (backchannel_logout_session_required)');
    // oidc-provider 9 sends no session_state; the gateway adds none.
    assert.equal('session_state' in payload, false, `JARM claims ${Object.keys(payload)}`);

    // Control: while the upstream session lives, prompt=none gets a code.
    const live = await silentAuthorization(agent);
    assert.equal(live.error, undefined, `prompt=none before logout: ${live.error} ${live.error_description ?? ''}`);
    assert.equal(typeof live.code, 'string');

    const state = `st-${randomBytes(8).toString('base64url')} a+b&c=d/é%20`;
    const start = agent.history.length;
    const out = await rpLogout(agent, endSessionUrl({
      id_token_hint: idToken,
      post_logout_redirect_uri: c.postLogoutRedirectUri,
      state,
      client_id: c.id,
    }), c.postLogoutRedirectUri);
    assert.equal(out.kind, 'redirect', `expected a redirect to post_logout_redirect_uri, got ${out.kind} ${out.status}: ${out.html?.slice(0, 400) ?? ''}`);
    assert.equal(out.status, 303);
    assert.equal(`${out.url.origin}${out.url.pathname}`, c.postLogoutRedirectUri);
    assert.deepEqual([...out.url.searchParams.keys()], ['state'], `Location ${out.location}`);
    assert.equal(out.url.searchParams.get('state'), state, 'the exact state comes back (RP-Initiated Logout 1.0 section 3)');
    assert.equal(out.url.hash, '');
    assert.equal(out.pages.length, 1, 'one confirmation page');
    // Every step of the logout went through the gateway.
    for (const h of agent.history.slice(start)) assert.equal(new URL(h.url).origin, world.issuer, `${h.method} ${h.url}`);

    // Back-Channel Logout 1.0: the upstream POSTed a logout token to the client.
    const ev = await world.callback.waitFor((e) => e.source === 'backchannel' && e.path === `/backchannel/${c.id}`);
    assert.match(ev.contentType ?? '', /^application\/x-www-form-urlencoded/);
    assert.deepEqual([...ev.params.keys()], ['logout_token']);
    // Signed by the upstream, verifiable with the gateway's jwks_uri (the merged key set).
    const { header, payload: lt } = verifyJws(ev.params.get('logout_token'), jwks);
    assert.equal(header.typ, 'logout+jwt');
    assert.equal(header.kid, 'upstream-rs256');
    assert.equal(lt.iss, as.issuer, 'the logout token names the issuer discovery announces');
    assert.equal(lt.aud, c.id);
    assert.equal(lt.sub, USER.sub);
    assert.equal(lt.sid, claims.sid, 'the sid of the ID Token');
    assert.deepEqual(lt.events, { [BACKCHANNEL_EVENT]: {} });
    assert.equal(typeof lt.jti, 'string');
    assert.equal(lt.nonce, undefined, 'a logout token has no nonce (section 2.4)');
    assert.ok(Math.abs(lt.iat - Date.now() / 1000) <= 30, 'iat is now');

    // The upstream session is gone: prompt=none now gets login_required, JWT-wrapped.
    const gone = await silentAuthorization(agent);
    assert.equal(gone.error, 'login_required');
    assert.equal(gone.code, undefined);
  }));

  test('an unregistered post_logout_redirect_uri is refused by the upstream through the gateway: an error page, no redirect', withLogs(async () => {
    const c = C();
    const { agent, idToken } = await login();
    const out = await rpLogout(agent, endSessionUrl({
      id_token_hint: idToken,
      post_logout_redirect_uri: `${world.callback.url}/cb/elsewhere`,
      state: 'x',
    }), world.callback.url);
    assert.equal(out.kind, 'page', `got ${out.kind} ${out.url?.href ?? ''}`);
    assert.equal(out.status, 400);
    assert.equal(new URL(out.url).origin, world.issuer);
    assert.match(out.html, /invalid_request/);
    assert.match(out.html, /post_logout_redirect_uri not registered/);
    assert.deepEqual(out.pages, []);
    // And the session lives on.
    const live = await silentAuthorization(agent);
    assert.equal(typeof live.code, 'string', `prompt=none after the refused logout: ${live.error}`);
  }));
});
