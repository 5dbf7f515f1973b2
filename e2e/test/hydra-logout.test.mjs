// Logout through the gateway in front of ORY Hydra v2.3.0 (issue 8): Hydra
// implements RP-Initiated Logout (/oauth2/sessions/logout with a logout UI,
// here the login app's /logout), Front-Channel Logout (a page of iframes to
// each client's frontchannel_logout_uri, then a redirect) and Back-Channel
// Logout (a logout token POSTed to each client's backchannel_logout_uri). It
// implements no Session Management: no session_state, no
// check_session_iframe. The gateway changes nothing on these paths.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { parseForms, unescapeHtml, UserAgent } from '../agent.mjs';
import { launchBrowser } from '../lib/browser.mjs';
import { authorizationUrl, discover, newRequest, push, redeem, validateJarm } from '../lib/client.mjs';
import { assertGatewayFronts, expectJarmClaims, expectJarmDelivery, parFlow, rpLogout, verifyJws } from '../lib/flows.mjs';
import { HYDRA_CLIENTS, startHydraWorld, SUBJECT } from '../lib/hydra.mjs';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

describe('logout through the gateway in front of ORY Hydra v2.3.0', () => {
  let world;
  let as;
  let jwks;
  const C = () => world.clients[HYDRA_CLIENTS.logout];

  before(async () => {
    // Remembered logins: a Hydra login session that prompt=none can use and
    // that RP-initiated logout ends.
    world = await startHydraWorld({ remember: true });
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

  async function silentAuthorization(agent) {
    const c = C();
    const { req, result } = await parFlow(as, c, { response_mode: 'query.jwt', prompt: 'none' }, { agent });
    const delivered = expectJarmDelivery(result, 'query', c.redirectUri);
    const { payload } = expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'RS256', jwks });
    assert.equal(payload.state, req.state);
    return payload;
  }

  test('discovery through the gateway carries Hydra\'s logout members unchanged, on the gateway\'s origin', withLogs(async () => {
    const own = await (await fetch(`${world.hydra.url}/.well-known/openid-configuration`)).json();
    assert.equal(as.end_session_endpoint, own.end_session_endpoint);
    assert.equal(as.end_session_endpoint, `${world.issuer}/oauth2/sessions/logout`);
    for (const m of ['frontchannel_logout_supported', 'frontchannel_logout_session_supported', 'backchannel_logout_supported', 'backchannel_logout_session_supported']) {
      assert.equal(own[m], true, `Hydra advertises ${m}`);
      assert.equal(as[m], own[m], m);
    }
    assert.equal(own.check_session_iframe, undefined, 'Hydra has no Session Management');
    assert.equal(as.check_session_iframe, undefined, 'the gateway adds none');
  }));

  test('RP-initiated logout after a PAR + JARM login: front-channel iframes, a verifiable logout token, the exact state back at post_logout_redirect_uri, and the Hydra session ends', withLogs(async () => {
    const c = C();
    const agent = new UserAgent();
    const { req, result } = await parFlow(as, c, { response_mode: 'query.jwt' }, { agent });
    const delivered = expectJarmDelivery(result, 'query', c.redirectUri);
    const { payload } = expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'RS256', jwks });
    assert.equal('session_state' in payload, false, `Hydra sends no session_state and the gateway adds none: ${Object.keys(payload)}`);
    const params = await validateJarm(as, c, delivered, req.state);
    const { tokens, claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    assert.equal(claims.sub, SUBJECT.sub);
    assert.equal(typeof claims.sid, 'string', 'the ID Token carries sid');

    // Control: the remembered Hydra session answers prompt=none with a code.
    const live = await silentAuthorization(agent);
    assert.equal(live.error, undefined, `prompt=none before logout: ${live.error} ${live.error_description ?? ''}`);
    assert.equal(typeof live.code, 'string');

    const state = `st-${randomBytes(8).toString('base64url')} a+b&c=d/é%20`;
    const logoutUrl = new URL(as.end_session_endpoint);
    for (const [k, v] of Object.entries({ id_token_hint: tokens.id_token, post_logout_redirect_uri: c.postLogoutRedirectUri, state, client_id: c.id })) logoutUrl.searchParams.set(k, v);
    const hitsBefore = world.loginApp.hits.length;
    const start = agent.history.length;
    const out = await rpLogout(agent, logoutUrl, c.postLogoutRedirectUri);
    assert.deepEqual(world.loginApp.hits.slice(hitsBefore).map((h) => h.path), ['/logout'], "Hydra's logout UI was asked once");
    // Every request but the logout UI's went through the gateway.
    for (const h of agent.history.slice(start)) {
      if (new URL(h.url).origin !== world.loginApp.url) assert.equal(new URL(h.url).origin, world.issuer, `${h.method} ${h.url}`);
    }

    // Front-Channel Logout 1.0: Hydra's page (through the gateway) embeds the
    // client's frontchannel_logout_uri with iss and sid, then redirects.
    assert.equal(out.kind, 'page', `expected Hydra's front-channel page, got ${out.kind} ${out.location ?? ''}`);
    assert.equal(out.status, 200);
    assert.equal(new URL(out.url).origin, world.issuer);
    assert.deepEqual(parseForms(out.html), []);
    const iframes = [...out.html.matchAll(/<iframe\s+src="([^"]*)"/g)].map((m) => new URL(unescapeHtml(m[1])));
    assert.equal(iframes.length, 1, out.html);
    assert.equal(`${iframes[0].origin}${iframes[0].pathname}`, c.frontchannelLogoutUri);
    assert.deepEqual(Object.fromEntries(iframes[0].searchParams), { iss: as.issuer, sid: claims.sid }, 'iss is the issuer discovery announces, sid the ID Token\'s');
    const frame = await agent.request(iframes[0]);
    await frame.arrayBuffer();
    const fc = await world.callback.waitFor((e) => e.path === '/cb/frontchannel');
    assert.equal(fc.params.get('sid'), claims.sid);

    const refresh = out.html.match(/<meta http-equiv="refresh" content="([^"]*)"/);
    assert.ok(refresh, 'the page redirects with a meta refresh');
    const target = new URL(unescapeHtml(refresh[1]).replace(/^\d+;\s*URL=/i, ''));
    const href = new URL(unescapeHtml(out.html.match(/<p id="redir"[\s\S]*?<a href="([^"]*)"/)[1]));
    assert.equal(href.href, target.href, 'the link and the meta refresh agree');
    assert.equal(`${target.origin}${target.pathname}`, c.postLogoutRedirectUri);
    assert.deepEqual([...target.searchParams.keys()], ['state']);
    assert.equal(target.searchParams.get('state'), state, 'the exact state comes back (RP-Initiated Logout 1.0 section 3)');

    // Back-Channel Logout 1.0: Hydra POSTs (asynchronously) a logout token.
    const ev = await world.callback.waitFor((e) => e.source === 'backchannel' && e.path === `/backchannel/${c.id}`);
    assert.match(ev.contentType ?? '', /^application\/x-www-form-urlencoded/);
    assert.deepEqual([...ev.params.keys()], ['logout_token']);
    const { header, payload: lt } = verifyJws(ev.params.get('logout_token'), jwks);
    assert.ok(jwks.keys.some((k) => k.kid === header.kid), 'signed with a key of the gateway\'s jwks_uri');
    assert.equal(lt.iss, as.issuer);
    assert.deepEqual([lt.aud].flat(), [c.id]);
    assert.equal(lt.sid, claims.sid);
    assert.deepEqual(lt.events, { [BACKCHANNEL_EVENT]: {} });
    assert.equal(typeof lt.jti, 'string');
    assert.equal(lt.nonce, undefined, 'a logout token has no nonce (section 2.4)');

    // The Hydra session is gone: prompt=none gets login_required, JWT-wrapped.
    const gone = await silentAuthorization(agent);
    assert.equal(gone.error, 'login_required');
    assert.equal(gone.code, undefined);
  }));

  test('in headless Chromium: Hydra\'s front-channel page, served through the gateway, loads the client\'s iframe and its script lands on post_logout_redirect_uri with the exact state', withLogs(async () => {
    const c = C();
    const browser = await launchBrowser();
    try {
      const page = await browser.context.newPage();
      const problems = [];
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      const req = await newRequest(c, { response_mode: 'query.jwt' });
      const pushed = await push(as, c, req.params);
      await page.goto(authorizationUrl(as, { client_id: c.id, request_uri: pushed.request_uri }).href);
      await page.waitForURL((u) => u.href.startsWith(c.redirectUri), { timeout: 15000 });
      const params = await validateJarm(as, c, new URL(page.url()).searchParams, req.state);
      const { tokens, claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });

      const state = `br-${randomBytes(8).toString('base64url')} a+b&c=d/é`;
      const logoutUrl = new URL(as.end_session_endpoint);
      for (const [k, v] of Object.entries({ id_token_hint: tokens.id_token, post_logout_redirect_uri: c.postLogoutRedirectUri, state })) logoutUrl.searchParams.set(k, v);
      const frontPages = [];
      page.on('response', (r) => {
        if (r.url().startsWith(`${world.issuer}/oauth2/sessions/logout?logout_verifier=`)) frontPages.push(r.status());
      });
      await page.goto(logoutUrl.href);
      await page.waitForURL((u) => u.href.startsWith(c.postLogoutRedirectUri), { timeout: 15000 });
      const done = new URL(page.url());
      assert.deepEqual([...done.searchParams.keys()], ['state'], done.href);
      assert.equal(done.searchParams.get('state'), state);
      assert.deepEqual(frontPages, [200], "the browser went through Hydra's front-channel page on the gateway's origin");
      const fc = await world.callback.waitFor((e) => e.path === '/cb/frontchannel' && e.params.get('sid') === claims.sid);
      assert.equal(fc.params.get('iss'), as.issuer, 'the iframe (loaded by Chromium) names the issuer discovery announces');
      await world.callback.waitFor((e) => e.path === '/cb/logout-done' && e.params.get('state') === state);
      const ev = await world.callback.waitFor((e) => e.source === 'backchannel' && verifyJws(e.params.get('logout_token'), jwks).payload.sid === claims.sid);
      assert.equal(verifyJws(ev.params.get('logout_token'), jwks).payload.iss, as.issuer);
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
      rmSync(browser.userDataDir, { recursive: true, force: true });
    }
  }));
});
