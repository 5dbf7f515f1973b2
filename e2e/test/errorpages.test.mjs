// Scenario 10: the error pages a person meets in the browser. Headless
// Chromium opens each kind of page the gateway can show (an unknown
// request_uri, a refused request, a flow that expired, rate limiting, the
// store going away), checks the human message, the reference (the same in
// the page, the X-Request-Id header and the gateway's log line), that the
// page fetched nothing from anywhere but its own origin and ran into no
// Content-Security-Policy violation (its style applies), and keeps a
// screenshot of each in e2e/artifacts/errorpages-<kind>.png. With
// JavaScript off, the form_post.jwt page shows a readable fallback whose
// Continue button still delivers the response.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { CHROMIUM, CHROMIUM_ARGS, launchBrowser } from '../lib/browser.mjs';
import { authorizationUrl, discover, newRequest, push } from '../lib/client.mjs';
import { CLIENTS, USER } from '../lib/fixtures.mjs';
import { startGateway } from '../lib/gateway.mjs';
import { freePort } from '../lib/net.mjs';
import { startWorld } from '../lib/world.mjs';

const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

const MESSAGES = {
  request_uri_invalid: 'This sign-in link has expired or was already used. Go back to the app and start again.',
  bad_request: 'The app that sent you here made a request that the sign-in service cannot accept. Go back to the app and try again. If it happens again, contact support.',
  flow_expired: 'This sign-in took too long or was already completed. Go back to the app and start again.',
  too_many_requests: 'There have been too many sign-in attempts from your network. Wait a minute, then try again.',
  unavailable: 'The sign-in service is temporarily unavailable. Try again in a minute.',
};

const b64url = (n) => randomBytes(n).toString('base64url');

describe('error pages in a real browser (headless Chromium)', () => {
  let world;
  let as;
  let browser;
  let limited;

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    world = await startWorld({ gateways: 1, redis: true });
    as = await discover(world.issuer);
    // A second replica with a rate limit of one request per 100 s.
    const [port, adminPort] = [await freePort(), await freePort()];
    limited = await startGateway({
      name: 'gateway-limited', port, adminPort, upstreamUrl: world.upstream.url, issuer: world.issuer,
      clientsFile: world.clientsFile, signingKeysFile: world.signingKeysFile, redisUrl: world.redis.url,
      env: { PARJARM_RATE_LIMIT: '0.01', PARJARM_RATE_LIMIT_BURST: '1' },
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    if (browser) rmSync(browser.userDataDir, { recursive: true, force: true });
    await limited?.stop();
    await world?.close();
  });

  const withLogs = (fn) => async (t) => {
    try {
      await fn(t);
    } catch (err) {
      if (world) t.diagnostic(world.logs());
      if (limited) t.diagnostic(`--- ${limited.name} ---\n${limited.logs().split('\n').slice(-40).join('\n')}`);
      throw err;
    }
  };

  /**
   * visit opens url in a fresh page and returns what a person and the
   * checks need: the main response, every request the page made, console
   * problems and CSP violations (recorded by a listener installed before
   * any of the page's own code, outside the page's CSP).
   */
  async function visit(url, { headers = {}, viewport, before: prepare } = {}) {
    const page = await browser.context.newPage();
    if (viewport) await page.setViewportSize(viewport);
    await page.setExtraHTTPHeaders(headers);
    const requests = [];
    const problems = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      const at = m.location()?.url ?? '';
      // Chromium reports the error status of the page itself (and of its
      // favicon) as a failed load: that is the page being an error page.
      if (/^Failed to load resource: the server responded with a status of \d+/.test(m.text()) && (at === url || at.endsWith('/favicon.ico'))) return;
      if (m.type() === 'error' || /Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`console ${m.type()}: ${m.text()} (${at})`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.addInitScript(() => {
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    await prepare?.(page);
    const response = await page.goto(url);
    await page.waitForLoadState('load');
    const violations = await page.evaluate(() => window.__violations);
    return { page, response, requests, problems, violations };
  }

  /**
   * expectPage asserts the page of kind: status, headers, the message, the
   * reference in the page, the header and the gateway's log, no request
   * outside origin, no CSP violation, the built-in style applied, and none
   * of secrets on the page. It takes the screenshot.
   */
  async function expectPage(v, { kind, status, origin, gateway = world.gateway, secrets = [], shot = kind, message = MESSAGES[kind], code, openDetails = false }) {
    const { page, response, requests, problems, violations } = v;
    try {
      assert.equal(response.status(), status, `status of the ${kind} page`);
      const h = response.headers();
      assert.match(h['content-type'] ?? '', /^text\/html/);
      assert.equal(h['cache-control'], 'no-store');
      assert.equal(h['x-content-type-options'], 'nosniff');
      assert.equal(h['referrer-policy'], 'no-referrer');
      assert.match(h['content-security-policy'] ?? '', /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'$/);
      assert.equal(await page.getAttribute('main', 'data-kind'), kind);
      assert.equal((await page.textContent('#message')).trim(), message);
      const ref = (await page.textContent('#reference')).trim();
      assert.match(ref, /^[A-Za-z0-9_-]{22}$/, 'a reference is shown');
      assert.equal(h['x-request-id'], ref, 'the page shows the X-Request-Id');
      assert.ok(gateway.logs().split('\n').some((l) => l.includes('authorization request refused') && l.includes(ref) && l.includes(kind)),
        `the gateway's log line names the reference ${ref}`);
      const foreign = requests.filter((u) => !u.startsWith(`${origin}/`));
      assert.deepEqual(foreign, [], 'the page requests nothing from another origin');
      assert.deepEqual(violations, [], 'no CSP violation');
      assert.deepEqual(problems, [], 'no console error');
      // The inline style passed the CSP (it is allowed by hash only).
      assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('main')).maxWidth), '576px', 'the page is styled');
      if (openDetails) {
        // The technical details are secondary: folded until asked for.
        assert.equal(await page.isVisible('#error'), false, 'the technical details start folded');
        await page.click('summary');
        assert.equal((await page.textContent('#error')).trim(), code);
        assert.ok(await page.isVisible('#error'), 'the technical details open');
      }
      const html = await page.content();
      for (const s of secrets) assert.ok(!html.includes(s), `the page does not show ${s}`);
      for (const [name, value] of Object.entries(h)) for (const s of secrets) assert.ok(!value.includes(s), `header ${name} does not carry ${s}`);
      await page.screenshot({ path: join(ARTIFACTS, `errorpages-${shot}.png`), fullPage: true });
    } finally {
      await page.close();
    }
  }

  test('10a. an unknown request_uri: "This sign-in link has expired or was already used"', withLogs(async () => {
    const secret = b64url(32);
    const url = authorizationUrl(as, { client_id: CLIENTS.basic, request_uri: `urn:ietf:params:oauth:request_uri:${secret}` });
    await expectPage(await visit(url.href), { kind: 'request_uri_invalid', status: 400, origin: world.issuer, secrets: [secret] });
  }));

  test('10b. the same page on a phone-sized screen, and in German', withLogs(async () => {
    const secret = b64url(32);
    const url = authorizationUrl(as, { client_id: CLIENTS.basic, request_uri: `urn:ietf:params:oauth:request_uri:${secret}` });
    await expectPage(await visit(url.href, { viewport: { width: 360, height: 740 } }),
      { kind: 'request_uri_invalid', status: 400, origin: world.issuer, secrets: [secret], shot: 'request_uri_invalid-narrow' });
    const de = await visit(url.href, { headers: { 'Accept-Language': 'de-DE,de;q=0.9,en;q=0.5' } });
    assert.equal(await de.page.getAttribute('html', 'lang'), 'de');
    await expectPage(de, {
      kind: 'request_uri_invalid', status: 400, origin: world.issuer, secrets: [secret], shot: 'request_uri_invalid-de',
      message: 'Dieser Anmeldelink ist abgelaufen oder wurde bereits verwendet. Kehren Sie zur App zurück und beginnen Sie erneut.',
    });
  }));

  test('10c. a refused request (a client that must push its request): the app made a request the service cannot accept', withLogs(async () => {
    const c = world.clients[CLIENTS.parOnly];
    const { params } = await newRequest(c);
    await expectPage(await visit(authorizationUrl(as, params).href), { kind: 'bad_request', status: 400, origin: world.issuer, code: 'invalid_request', openDetails: true });
  }));

  test('10d. an upstream redirect for a flow the gateway no longer knows: "This sign-in took too long or was already completed"', withLogs(async () => {
    // A state shaped like a transaction id that is no live transaction:
    // the upstream answers prompt=none without a session by redirecting
    // to the client with login_required and that state. The gateway never
    // lets such a response through.
    const c = world.clients[CLIENTS.basic];
    // The shape of a transaction id: pjt_, the 8-byte hash tag, 32 random bytes.
    const txid = `pjt_${b64url(8)}${b64url(32)}`;
    const { params } = await newRequest(c, { state: txid, prompt: 'none' });
    await browser.context.clearCookies();
    await expectPage(await visit(authorizationUrl(as, params).href), { kind: 'flow_expired', status: 400, origin: world.issuer, secrets: [txid], code: 'invalid_request', openDetails: true });
  }));

  test('10e. too many attempts (PARJARM_RATE_LIMIT): "Wait a minute, then try again"', withLogs(async () => {
    const url = new URL(authorizationUrl(as, { client_id: CLIENTS.basic, request_uri: `urn:ietf:params:oauth:request_uri:${b64url(32)}` }));
    url.protocol = 'http:';
    url.host = new URL(limited.url).host;
    const first = await visit(url.href);
    assert.equal(first.response.status(), 400, 'the first request is within the limit');
    await first.page.close();
    const v = await visit(url.href);
    assert.ok(Number(v.response.headers()['retry-after']) > 0, 'Retry-After');
    await expectPage(v, { kind: 'too_many_requests', status: 429, origin: limited.url, gateway: limited });
  }));

  test('10g. form_post.jwt with JavaScript off: the auto-submit page explains itself and its Continue button posts the response', withLogs(async () => {
    const c = world.clients[CLIENTS.basic];
    world.callback.clear();
    const req = await newRequest(c, { response_mode: 'form_post.jwt' });
    const pushed = await push(as, c, req.params);
    const noScript = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    try {
      const context = await noScript.newContext({ javaScriptEnabled: false, viewport: { width: 900, height: 700 } });
      const page = await context.newPage();
      const problems = [];
      page.on('console', (m) => {
        if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(m.text());
      });
      let formPage;
      page.on('response', (r) => {
        if (r.url().startsWith(world.issuer) && r.status() === 200 && /html/.test(r.headers()['content-type'] ?? '') && !r.url().includes('/interaction/')) formPage = r;
      });
      await page.goto(authorizationUrl(as, { client_id: c.id, request_uri: pushed.request_uri }).href);
      await page.fill('#username', USER.username);
      await page.fill('#password', USER.password);
      await Promise.all([page.waitForSelector('form#consent'), page.click('#sign-in')]);
      await Promise.all([page.waitForSelector('noscript h1, main h1'), page.click('#allow')]);
      assert.ok(formPage, 'the gateway served the form_post page');
      const csp = formPage.headers()['content-security-policy'] ?? '';
      assert.match(csp, /script-src 'sha256-[^']+'; style-src 'sha256-[^']+'; form-action http:\/\/127\.0\.0\.1:\d+; frame-ancestors 'none'; base-uri 'none'/);
      assert.equal((await page.textContent('main h1')).trim(), 'One more step to finish signing in');
      assert.ok(await page.isVisible('button[type=submit]'), 'a Continue button');
      // Evaluated over the DevTools protocol (the page's own scripts are off):
      // the fallback's style applies, so it passed the CSP by its hash.
      assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('button')).borderTopLeftRadius), '10px', 'the fallback is styled');
      await page.screenshot({ path: join(ARTIFACTS, 'errorpages-form_post-noscript.png'), fullPage: true });
      assert.deepEqual(problems, [], 'no CSP violation (its style is allowed by hash)');
      await page.click('button[type=submit]');
      const posted = await world.callback.waitFor((e) => e.source === 'form' && e.path === new URL(c.redirectUri).pathname);
      assert.deepEqual([...posted.params.keys()], ['response']);
    } finally {
      await noScript.close();
    }
  }));

  test('10f. the store goes away (Redis stopped): "The sign-in service is temporarily unavailable"', withLogs(async () => {
    await world.redis.stop();
    const secret = b64url(32);
    const url = authorizationUrl(as, { client_id: CLIENTS.basic, request_uri: `urn:ietf:params:oauth:request_uri:${secret}` });
    await expectPage(await visit(url.href), { kind: 'unavailable', status: 503, origin: world.issuer, secrets: [secret] });
    // In dark mode too (prefers-color-scheme).
    await expectPage(await visit(url.href, { before: (page) => page.emulateMedia({ colorScheme: 'dark' }) }),
      { kind: 'unavailable', status: 503, origin: world.issuer, secrets: [secret], shot: 'unavailable-dark' });
  }));
});
