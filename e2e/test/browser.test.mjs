// Scenario 9: a real browser. Headless Chromium signs in on the legacy
// upstream's login page (through the gateway) and reaches the client's
// callback: with form_post.jwt (the gateway's auto-submitting page must work
// under its own Content-Security-Policy) and with fragment.jwt (the
// callback page's script reads the fragment). Screenshots go to e2e/artifacts/.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { launchBrowser } from '../lib/browser.mjs';
import { authorizationUrl, discover, newRequest, push, redeem, validateJarm } from '../lib/client.mjs';
import { CLIENTS, USER } from '../lib/fixtures.mjs';
import { expectJarmClaims, logsOnFailure } from '../lib/flows.mjs';
import { startWorld } from '../lib/world.mjs';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

describe('in a real browser (headless Chromium)', () => {
  let world;
  let as;
  let browser;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    world = await startWorld({ gateways: 1 });
    as = await discover(world.issuer);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    if (browser) rmSync(browser.userDataDir, { recursive: true, force: true });
    await world?.close();
  });

  /**
   * signIn opens authUrl in a fresh page (no cookies), signs in and allows,
   * and returns { page, problems, gatewayPages } where problems are console
   * errors and CSP violations seen on the way.
   */
  async function signIn(authUrl, shot) {
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    const problems = [];
    const gatewayPages = [];
    page.on('console', (m) => {
      if (m.location()?.url?.endsWith('/favicon.ico')) return;
      if (m.type() === 'error' || /Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('response', async (r) => {
      if (r.url().startsWith(world.issuer) && r.status() === 200 && /html/.test(r.headers()['content-type'] ?? '')) {
        gatewayPages.push({ url: r.url(), headers: r.headers() });
      }
    });
    await page.goto(authUrl.href);
    await page.waitForSelector('form#login', { timeout: 10000 });
    await page.screenshot({ path: join(ARTIFACTS, `${shot}-1-login.png`), fullPage: true });
    await page.fill('#username', USER.username);
    await page.fill('#password', USER.password);
    await Promise.all([page.waitForSelector('form#consent'), page.click('#sign-in')]);
    await page.screenshot({ path: join(ARTIFACTS, `${shot}-2-consent.png`), fullPage: true });
    await page.click('#allow');
    return { page, problems, gatewayPages };
  }

  // Prints the gateway's and upstream's last log lines when a test fails.
  const withLogs = logsOnFailure(() => ({ world, as }));

  test('9a. form_post.jwt from the login page to the client callback: the auto-submitting page works under its CSP', withLogs(async () => {
    const c = world.clients[CLIENTS.basic];
    world.callback.clear();
    const req = await newRequest(c, { response_mode: 'form_post.jwt' });
    const pushed = await push(as, c, req.params);
    const { page, problems, gatewayPages } = await signIn(authorizationUrl(as, { client_id: c.id, request_uri: pushed.request_uri }), 'form_post_jwt');

    const posted = await world.callback.waitFor((e) => e.source === 'form' && e.path === new URL(c.redirectUri).pathname);
    await page.waitForURL(c.redirectUri);
    await page.waitForSelector('#method');
    assert.equal(await page.textContent('#method'), 'POST');
    await page.screenshot({ path: join(ARTIFACTS, 'form_post_jwt-3-callback.png'), fullPage: true });

    const autoSubmit = gatewayPages.find((p) => p.url.startsWith(world.issuer) && !p.url.includes('/interaction/'));
    assert.ok(autoSubmit, `the gateway served the auto-submit page (saw ${gatewayPages.map((p) => p.url).join(', ')})`);
    assert.ok(autoSubmit.headers['content-security-policy'], 'the auto-submit page has a Content-Security-Policy');
    assert.deepEqual(problems, [], 'no console errors or CSP violations');

    assert.deepEqual([...posted.params.keys()], ['response']);
    const { payload } = expectJarmClaims(posted.params.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'RS256' });
    assert.equal(payload.state, req.state);
    const params = await validateJarm(as, c, posted.params, req.state);
    const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    assert.equal(claims.sub, USER.sub);
    await page.close();
  }));

  test("9b. fragment.jwt: the client's callback page script reads the JARM response from the fragment", withLogs(async () => {
    const c = world.clients[CLIENTS.public];
    world.callback.clear();
    const req = await newRequest(c, { response_mode: 'fragment.jwt' });
    const pushed = await push(as, c, req.params);
    const { page, problems } = await signIn(authorizationUrl(as, { client_id: c.id, request_uri: pushed.request_uri }), 'fragment_jwt');

    await page.waitForURL((u) => u.href.startsWith(c.redirectUri));
    await page.waitForSelector('body[data-fragment-read="yes"]');
    assert.match(await page.textContent('#fragment'), /^response=/);
    assert.equal(new URL(page.url()).search, '');
    await page.screenshot({ path: join(ARTIFACTS, 'fragment_jwt-3-callback.png'), fullPage: true });
    // The page's script posted what it read from location.hash.
    const seen = await world.callback.waitFor((e) => e.source === 'fragment');
    assert.deepEqual([...seen.params.keys()], ['response']);
    assert.deepEqual(problems, [], 'no console errors or CSP violations');

    const params = await validateJarm(as, c, seen.params, req.state);
    const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    assert.equal(claims.sub, USER.sub);
    await page.close();
  }));
});
