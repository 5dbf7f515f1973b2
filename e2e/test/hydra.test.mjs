// The gateway in front of a second real legacy upstream: ORY Hydra v2.3.0
// (PostgreSQL, `hydra serve all --dev`), which advertises neither PAR nor
// JARM and delegates login and consent to an app on another origin
// (e2e/lib/hydra.mjs). Hydra reads its authorization parameters with Go's
// r.Form, which merges the query and a form body: the gateway must read the
// same parameters the upstream reads, or a request the gateway never checked
// reaches the upstream (issue 13, defect 1).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { UserAgent } from '../agent.mjs';
import { discover, oauth, redeem, rpClient, validateJarm } from '../lib/client.mjs';
import { expectJarmClaims, expectJarmDelivery, logsOnFailure, parFlow } from '../lib/flows.mjs';
import { HYDRA_CLIENTS, startHydraWorld, SUBJECT } from '../lib/hydra.mjs';

describe('through the gateway in front of ORY Hydra v2.3.0', () => {
  let world;
  let as;
  let jwks;
  const C = (id) => world.clients[id];

  before(async () => {
    world = await startHydraWorld();
    as = await discover(world.issuer);
    jwks = await (await fetch(as.jwks_uri)).json();
  });

  after(async () => {
    await world?.close();
  });

  // Prints the gateway's and upstream's last log lines when a test fails.
  const withLogs = logsOnFailure(() => ({ world, as }));

  test('discovery through the gateway adds PAR and the JWT response modes to what Hydra publishes', withLogs(async () => {
    assert.equal(as.issuer, world.issuer);
    assert.equal(as.authorization_endpoint, `${world.issuer}/oauth2/auth`, "Hydra's own authorization endpoint, on the gateway's origin");
    assert.equal(as.pushed_authorization_request_endpoint, `${world.issuer}/par`);
    for (const m of ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt']) {
      assert.ok(as.response_modes_supported.includes(m), `response_modes_supported has ${m}: ${as.response_modes_supported}`);
    }
    // Hydra alone has neither.
    const upstream = await (await fetch(`${world.hydra.url}/.well-known/openid-configuration`)).json();
    assert.equal(upstream.pushed_authorization_request_endpoint, undefined);
    assert.ok(!upstream.response_modes_supported.includes('query.jwt'), `Hydra's own modes: ${upstream.response_modes_supported}`);
  }));

  test('PAR + JARM (query.jwt): the JARM response validates with oauth4webapi and its code redeems at Hydra through the gateway', withLogs(async () => {
    const c = C(HYDRA_CLIENTS.basic);
    const loginHits = world.loginApp.hits.length;
    const { req, result } = await parFlow(as, c, { response_mode: 'query.jwt' }, { agent: new UserAgent() });
    assert.deepEqual(world.loginApp.hits.slice(loginHits).map((h) => h.path), ['/login', '/consent'], "Hydra's login app was asked once for login and once for consent");
    const params = expectJarmDelivery(result, 'query', c.redirectUri);
    const { payload } = expectJarmClaims(params.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'RS256', jwks });
    assert.equal(payload.state, req.state, "the client's own state, not the gateway's transaction id");
    assert.ok(payload.code, 'the JARM response carries the code');
    const validated = await validateJarm(as, c, params, req.state);
    assert.equal(validated.get('code'), payload.code);
    const { tokens, claims } = await redeem(as, c, validated, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    assert.ok(tokens.access_token, 'Hydra issued an access token');
    assert.equal(claims.iss, world.issuer, "Hydra's ID Token names the gateway's issuer");
    assert.equal(claims.sub, SUBJECT.sub);
    assert.deepEqual([claims.aud].flat(), [c.id]);
    assert.equal(claims.email, SUBJECT.email, 'the consent app granted the ID Token claims');
  }));

  // Issue 8 (interop). Hydra sends the browser back to its authorization
  // endpoint after login and after consent with the query it received plus
  // login_verifier (then consent_verifier): not the exact query the gateway
  // expanded, so a gateway that only lets that exact query through refuses
  // every PAR flow of a client that must use PAR.
  test('PAR flow of a client that must use PAR completes through Hydra (login and consent re-enter with a verifier added)', withLogs(async () => {
    const c = C(HYDRA_CLIENTS.conf);
    const ua = new UserAgent();
    const { req, result } = await parFlow(as, c, {}, { agent: ua });
    const trail = ua.history.map((h) => `${h.method} ${h.url.slice(0, 160)} -> ${h.status}`).join('\n  ');
    assert.equal(result.kind, 'redirect', `expected the client's callback, got ${result.kind} ${result.status} ${result.html?.match(/<dd id="error">[^<]*<\/dd>/)?.[0] ?? ''}:\n  ${trail}`);
    const params = oauth.validateAuthResponse(as, rpClient(c), result.url.searchParams, req.state);
    const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    assert.equal(claims.sub, SUBJECT.sub);
  }));

  // Issue 13, defect 1. The client `conf` must use PAR (it is registered with
  // require_pushed_authorization_requests in the gateway, and as a plain
  // client with the same id and redirect URI in Hydra). A POST to the
  // authorization endpoint whose parameters sit in the query (all of them,
  // or some) must not reach Hydra, which would read them from r.Form and
  // start a login: the gateway refuses it with its own 400 invalid_request
  // page, and Hydra's login app is never asked. Each attempt is followed as
  // a browser would follow it, so a bypass shows up as login app hits.
  describe('defect 1: a POST to the authorization endpoint cannot carry parameters past the gateway in its query', () => {
    const STATE = 'xyz-bypass-state'; // Hydra (fosite) refuses a state under 8 characters before any login.
    const baseParams = () => ({
      client_id: HYDRA_CLIENTS.conf,
      response_type: 'code',
      redirect_uri: C(HYDRA_CLIENTS.conf).redirectUri,
      state: STATE,
      scope: 'openid',
    });

    // attempt POSTs form (an object, possibly empty) to the authorization
    // endpoint with query as its query, without following redirects; a
    // redirect is then followed by the same browser-like agent, to show
    // where it leads. Returns { res, html, ua, followed }.
    async function attempt(query, form) {
      const url = new URL(as.authorization_endpoint);
      url.search = new URLSearchParams(query).toString();
      const ua = new UserAgent();
      const res = await ua.request(url, { method: 'POST', form });
      const html = await res.text();
      let followed;
      const location = res.headers.get('location');
      if (location) followed = await ua.authorize(new URL(location, url), C(HYDRA_CLIENTS.conf).redirectUri).catch((err) => ({ kind: 'error', message: err.message }));
      return { res, html, ua, followed };
    }

    // short keeps a URL readable in a failure message (challenges and
    // verifiers are long).
    const short = (u) => (u && u.length > 160 ? `${u.slice(0, 160)}…` : u);

    function expectRefused({ res, html, ua, followed }, loginHitsBefore, what) {
      const trail = ua.history.map((h) => `${h.method} ${short(h.url)} -> ${h.status}${h.location ? ` (Location: ${short(h.location)})` : ''}`).join('\n  ');
      const ended = followed ? `${followed.kind} ${followed.status ?? ''} ${short(followed.url?.href) ?? followed.message ?? ''}` : '-';
      assert.equal(res.status, 400, `${what}: the gateway must refuse with 400; got ${res.status}${res.headers.get('location') ? ` Location: ${short(res.headers.get('location'))}` : ''}\n  ${trail}\n  ended: ${ended}`);
      assert.equal(res.headers.get('location'), null, `${what}: no redirect`);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/, `${what}: an error page`);
      assert.match(html, /data-kind="bad_request"/, `${what}: the gateway's own error page, not Hydra's`);
      assert.match(html, /<dd id="error">invalid_request<\/dd>/, `${what}: error invalid_request`);
      assert.deepEqual(world.loginApp.hits.slice(loginHitsBefore).map((h) => h.path), [], `${what}: Hydra's login app was never asked`);
    }

    test('all parameters in the query, an empty form body', withLogs(async () => {
      const before = world.loginApp.hits.length;
      expectRefused(await attempt(baseParams(), {}), before, 'query only');
    }));

    test('the parameters split between the query and the body', withLogs(async () => {
      const before = world.loginApp.hits.length;
      const { client_id, response_type, ...rest } = baseParams();
      expectRefused(await attempt({ client_id, response_type }, rest), before, 'client_id and response_type in the query, the rest in the body');
      const { redirect_uri, state, scope } = baseParams();
      expectRefused(await attempt({ redirect_uri, state, scope }, { client_id, response_type }), before, 'client_id in the body, the rest in the query');
    }));

    test('a case-changed CLIENT_ID in the query is refused, not passed on', withLogs(async () => {
      const before = world.loginApp.hits.length;
      const { client_id, ...rest } = baseParams();
      expectRefused(await attempt({ CLIENT_ID: client_id, ...rest }, {}), before, 'CLIENT_ID in the query');
    }));

    test('a parameter both in the query and in the body is refused', withLogs(async () => {
      const before = world.loginApp.hits.length;
      const { state, ...rest } = baseParams();
      expectRefused(await attempt({ ...rest, state }, { state: 'another-state-value' }), before, 'state in query and body');
      expectRefused(await attempt(baseParams(), { client_id: HYDRA_CLIENTS.conf }), before, 'client_id in query and body');
    }));

    test('no code reaches the client even when every step to the gateway is POSTed with its parameters in the query', withLogs(async () => {
      // A scripted agent, not a browser: Hydra's login and consent app send
      // it back to the authorization endpoint with a GET, and it POSTs
      // that URL instead, with an empty body, as it did the first request.
      const c = C(HYDRA_CLIENTS.conf);
      const before = world.loginApp.hits.length;
      const ua = new UserAgent();
      let url = new URL(as.authorization_endpoint);
      url.search = new URLSearchParams(baseParams()).toString();
      let first;
      for (let hop = 0; hop < 8; hop++) {
        const viaGateway = url.origin === world.issuer;
        const res = await ua.request(url, viaGateway ? { method: 'POST', form: {} } : {});
        first ??= res;
        await res.arrayBuffer();
        const location = res.headers.get('location');
        if (!location) break;
        url = new URL(location, url);
        if (url.href.startsWith(c.redirectUri)) break;
      }
      const trail = ua.history.map((h) => `${h.method} ${short(h.url)} -> ${h.status}`).join('\n  ');
      assert.ok(!ua.history.some((h) => h.location?.startsWith(c.redirectUri)), `no redirect to the client's redirect_uri (a code or an error issued without PAR):\n  ${trail}`);
      assert.equal(first.status, 400, `the first POST is refused:\n  ${trail}`);
      assert.deepEqual(world.loginApp.hits.slice(before).map((h) => h.path), [], "Hydra's login app was never asked");
    }));
  });
});
