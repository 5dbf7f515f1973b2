// Scenario 9 against the second upstream: headless Chromium runs PAR + JARM
// flows through the gateway in front of ORY Hydra v2.3.0. The browser
// follows the real redirects: the gateway's authorization endpoint, Hydra's
// (proxied by the gateway), Hydra's login and consent app on its own origin,
// back into Hydra through the gateway with login_verifier and then
// consent_verifier, and finally the JARM response on the client's callback:
// form_post.jwt (the gateway's auto-submitting page must run under its own
// Content-Security-Policy) and fragment.jwt (the callback page's script reads
// the fragment). oauth4webapi validates each response and redeems its code.
// Screenshots go to e2e/artifacts/.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { launchBrowser } from '../lib/browser.mjs';
import { authorizationUrl, discover, newRequest, push, redeem, validateJarm } from '../lib/client.mjs';
import { expectJarmClaims, logsOnFailure } from '../lib/flows.mjs';
import { HYDRA_CLIENTS, startHydraWorld, SUBJECT } from '../lib/hydra.mjs';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

describe('in a real browser (headless Chromium) through the gateway in front of ORY Hydra v2.3.0', () => {
  let world;
  let as;
  let jwks;
  let browser;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    world = await startHydraWorld();
    as = await discover(world.issuer);
    jwks = await (await fetch(as.jwks_uri)).json();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    if (browser) rmSync(browser.userDataDir, { recursive: true, force: true });
    await world?.close();
  });

  const withLogs = logsOnFailure(() => ({ world, as }));

  /**
   * open starts a fresh page (no cookies) at authUrl and records the main
   * frame's navigations (every hop of every redirect chain) as trail
   * [{ method, url }], the gateway's 200 HTML pages, and console errors and
   * CSP violations as problems.
   */
  async function open(authUrl) {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    const trail = [];
    const gatewayPages = [];
    const problems = [];
    page.on('request', (r) => {
      if (r.isNavigationRequest() && r.frame() === page.mainFrame()) trail.push({ method: r.method(), url: r.url() });
    });
    page.on('response', (r) => {
      if (r.url().startsWith(world.issuer) && r.status() === 200 && /html/.test(r.headers()['content-type'] ?? '')) {
        gatewayPages.push({ url: r.url(), headers: r.headers() });
      }
    });
    page.on('console', (m) => {
      if (m.location()?.url?.endsWith('/favicon.ico')) return;
      if (m.type() === 'error' || /Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(authUrl.href);
    return { page, trail, gatewayPages, problems };
  }

  const show = (trail) => trail.map((h) => `${h.method} ${h.url.length > 140 ? `${h.url.slice(0, 140)}…` : h.url}`).join('\n  ');

  /**
   * expectHydraTrail asserts the browser went gateway → Hydra's login app →
   * back through the gateway → consent app → back through the gateway,
   * never to Hydra's own address, and ended on the client's redirect URI.
   */
  function expectHydraTrail(trail, authUrl, c, lastMethod) {
    const t = show(trail);
    assert.equal(trail[0].url, authUrl.href, `starts at the gateway's authorization endpoint:\n  ${t}`);
    const hydraOrigin = new URL(world.hydra.url).origin;
    assert.ok(!trail.some((h) => new URL(h.url).origin === hydraOrigin), `never at Hydra's own address ${hydraOrigin}:\n  ${t}`);
    const at = (pred) => trail.findIndex(pred);
    const login = at((h) => h.url.startsWith(`${world.loginApp.loginUrl}?login_challenge=`));
    const afterLogin = at((h) => h.url.startsWith(as.authorization_endpoint) && new URL(h.url).searchParams.has('login_verifier'));
    const consent = at((h) => h.url.startsWith(`${world.loginApp.consentUrl}?consent_challenge=`));
    const afterConsent = at((h) => h.url.startsWith(as.authorization_endpoint) && new URL(h.url).searchParams.has('consent_verifier'));
    assert.ok(login > 0 && afterLogin > login && consent > afterLogin && afterConsent > consent, `login app, back through the gateway with login_verifier, consent app, back with consent_verifier, in that order:\n  ${t}`);
    const last = trail.at(-1);
    assert.equal(last.method, lastMethod, `the last navigation:\n  ${t}`);
    assert.ok(last.url.startsWith(c.redirectUri), `ends on the client's redirect URI:\n  ${t}`);
  }

  test("H9a. form_post.jwt: Chromium follows Hydra's login and consent redirects and the gateway's auto-submitting page posts the JARM response under its CSP", withLogs(async () => {
    const c = world.clients[HYDRA_CLIENTS.basic];
    world.callback.clear();
    const loginHits = world.loginApp.hits.length;
    const req = await newRequest(c, { response_mode: 'form_post.jwt' });
    const pushed = await push(as, c, req.params);
    const authUrl = authorizationUrl(as, { client_id: c.id, request_uri: pushed.request_uri });
    const { page, trail, gatewayPages, problems } = await open(authUrl);

    const posted = await world.callback.waitFor((e) => e.source === 'form' && e.path === new URL(c.redirectUri).pathname);
    await page.waitForURL(c.redirectUri);
    await page.waitForSelector('#method');
    assert.equal(await page.textContent('#method'), 'POST');
    await page.screenshot({ path: join(ARTIFACTS, 'hydra_form_post_jwt-callback.png'), fullPage: true });

    expectHydraTrail(trail, authUrl, c, 'POST');
    assert.deepEqual(world.loginApp.hits.slice(loginHits).map((h) => h.path), ['/login', '/consent'], 'the browser visited the login app once for login, once for consent');
    assert.equal(gatewayPages.length, 1, `one HTML page from the gateway's origin, the auto-submitting form (saw ${gatewayPages.map((p) => p.url).join(', ')})`);
    const csp = gatewayPages[0].headers['content-security-policy'];
    assert.ok(csp, 'the auto-submitting page has a Content-Security-Policy');
    assert.deepEqual(problems, [], 'no console errors or CSP violations');

    assert.deepEqual([...posted.params.keys()], ['response']);
    const { payload } = expectJarmClaims(posted.params.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'RS256', jwks });
    assert.equal(payload.state, req.state, "the client's own state, not the gateway's transaction id");
    const params = await validateJarm(as, c, posted.params, req.state);
    const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    assert.equal(claims.iss, world.issuer);
    assert.equal(claims.sub, SUBJECT.sub);
    await page.close();
  }));

  test("H9b. fragment.jwt for a client that must use PAR: the callback page's script reads the JARM response Chromium brought back from Hydra", withLogs(async () => {
    const c = world.clients[HYDRA_CLIENTS.conf];
    world.callback.clear();
    const req = await newRequest(c, { response_mode: 'fragment.jwt' });
    const pushed = await push(as, c, req.params);
    const authUrl = authorizationUrl(as, { client_id: c.id, request_uri: pushed.request_uri });
    const { page, trail, problems } = await open(authUrl);

    await page.waitForURL((u) => u.href.startsWith(c.redirectUri));
    await page.waitForSelector('body[data-fragment-read="yes"]');
    assert.match(await page.textContent('#fragment'), /^response=/);
    assert.equal(new URL(page.url()).search, '', 'nothing in the query for fragment.jwt');
    await page.screenshot({ path: join(ARTIFACTS, 'hydra_fragment_jwt-callback.png'), fullPage: true });
    expectHydraTrail(trail, authUrl, c, 'GET');
    const seen = await world.callback.waitFor((e) => e.source === 'fragment');
    assert.deepEqual([...seen.params.keys()], ['response']);
    assert.deepEqual(problems, [], 'no console errors or CSP violations');

    const params = await validateJarm(as, c, seen.params, req.state);
    const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    assert.equal(claims.sub, SUBJECT.sub);
    await page.close();
  }));
});
