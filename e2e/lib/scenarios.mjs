// The gateway scenarios of issues 5 and 8, written once and run against
// every real upstream (e2e/test/gateway.test.mjs and replicas.test.mjs:
// node oidc-provider; e2e/test/hydra-scenarios.test.mjs: ORY Hydra). start()
// resolves to a world with the interface of e2e/lib/world.mjs startWorld:
// { issuer, upstreamUrl, gateway, gateways, callback, clients
// (the e2e/lib/fixtures.mjs CLIENTS), subject, plainResponseKeys, user(opts),
// interactions(agent), logs(), close() }. Every scenario runs against both
// upstreams; none needs skipping.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { authorizationUrl, discover, newRequest, oauth, OPTS, push, pushRaw, redeem, rpClient, signedRequestObject, validateJarm, viaOrigin } from './client.mjs';
import { CLIENTS } from './fixtures.mjs';
import { expectJarmClaims, expectJarmDelivery, logsOnFailure, parFlow, plainFlow, Secrets } from './flows.mjs';

const JWT_MODES = ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt'];

/**
 * gatewayScenarios defines, in a describe block named label, scenarios 1-6
 * and 8 of issue 5 (discovery, PAR, JAR, every JARM mode and signing alg,
 * PKCE, deny, plain and hybrid flows, no secrets in the logs) against the
 * one-replica world start() resolves to.
 */
export function gatewayScenarios(label, start) {
  describe(label, () => {
    let world;
    let as;
    let jwks;
    const secrets = new Secrets();
    const C = (id) => world.clients[id];
    const user = (opts) => world.user(opts);

    before(async () => {
      world = await start();
      for (const c of Object.values(world.clients)) secrets.add('client_secret', c.secret);
      as = await discover(world.issuer);
      jwks = await (await fetch(as.jwks_uri)).json();
    });

    after(async () => {
      await world?.close();
    });

    // Prints the gateway's and upstream's last log lines when a test fails.
    const withLogs = logsOnFailure(() => ({ world, as }));

    test('8. discovery through the gateway advertises PAR and the JWT response modes, and oauth4webapi uses it as is', withLogs(async () => {
      // processDiscoveryResponse (in discover) already checked issuer == the URL we asked.
      assert.equal(as.issuer, world.issuer);
      assert.equal(as.pushed_authorization_request_endpoint, `${world.issuer}/par`);
      assert.equal(typeof as.require_pushed_authorization_requests, 'boolean');
      assert.equal(as.require_pushed_authorization_requests, false);
      for (const m of ['query', 'fragment', 'form_post', ...JWT_MODES]) {
        assert.ok(as.response_modes_supported.includes(m), `response_modes_supported has ${m}: ${as.response_modes_supported}`);
      }
      for (const alg of ['RS256', 'PS256', 'ES256', 'EdDSA']) {
        assert.ok(as.authorization_signing_alg_values_supported?.includes(alg), `authorization_signing_alg_values_supported has ${alg}: ${as.authorization_signing_alg_values_supported}`);
      }
      // Every endpoint the client uses is on the gateway.
      for (const ep of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'pushed_authorization_request_endpoint']) {
        assert.equal(new URL(as[ep]).origin, world.issuer, `${ep} ${as[ep]}`);
      }
      // The key set verifies both the upstream's ID Tokens (every key the
      // upstream itself publishes) and the gateway's JARM responses.
      const upstreamMeta = await (await fetch(`${world.upstreamUrl}/.well-known/openid-configuration`)).json();
      const upstreamJwks = await (await fetch(new URL(new URL(upstreamMeta.jwks_uri).pathname, world.upstreamUrl))).json();
      assert.ok(upstreamJwks.keys.length > 0, `the upstream publishes its keys at ${upstreamMeta.jwks_uri}`);
      const kids = jwks.keys.map((k) => k.kid);
      for (const kid of [...upstreamJwks.keys.map((k) => k.kid), 'parjarm-rs256', 'parjarm-ps256', 'parjarm-es256', 'parjarm-eddsa']) {
        assert.ok(kids.includes(kid), `jwks has ${kid}: ${kids}`);
      }
      for (const k of jwks.keys) assert.equal(k.d, undefined, `${k.kid} is published without its private part`);
      // The upstream's own facts pass through.
      assert.deepEqual(as.code_challenge_methods_supported, upstreamMeta.code_challenge_methods_supported);
      assert.deepEqual(as.response_types_supported, upstreamMeta.response_types_supported);
      assert.ok(as.response_types_supported.includes('code'));
      // oauth4webapi uses the document as is: a push with it is accepted.
      const c = C(CLIENTS.basic);
      const { params } = await newRequest(c);
      const pushed = await push(as, c, params);
      secrets.add('request_uri', pushed.request_uri);
      assert.match(pushed.request_uri, /^urn:ietf:params:oauth:request_uri:[\w-]{43,}$/);
    }, { flow: false }));

    test('8b. RFC 8414 metadata at /.well-known/oauth-authorization-server carries the same additions', withLogs(async () => {
      const issuerUrl = new URL(world.issuer);
      const res = await oauth.discoveryRequest(issuerUrl, { ...OPTS, algorithm: 'oauth2' });
      const meta = await oauth.processDiscoveryResponse(issuerUrl, res);
      assert.equal(meta.pushed_authorization_request_endpoint, as.pushed_authorization_request_endpoint);
      for (const m of JWT_MODES) assert.ok(meta.response_modes_supported.includes(m), m);
    }, { flow: false }));

    test('1. PAR + code flow with client_secret_basic completes; the same request_uri again gets an invalid_request_uri error page, no login page', withLogs(async () => {
      const c = C(CLIENTS.basic);
      const { req, pushed, authUrl, agent, result } = await parFlow(as, c, {}, { secrets });
      assert.ok(pushed.expires_in > 0 && pushed.expires_in <= 60, `expires_in ${pushed.expires_in}`);
      assert.deepEqual([...authUrl.searchParams.keys()].sort(), ['client_id', 'request_uri'], 'the browser carries only client_id and request_uri');
      assert.deepEqual(world.interactions(agent), ['login', 'consent']);
      assert.equal(result.kind, 'redirect', `got ${result.kind} ${result.status} ${result.html?.slice(0, 300)}`);
      const q = result.url.searchParams;
      assert.equal(q.get('state'), req.state, "the client's own state comes back");
      assert.equal(q.get('iss'), world.issuer);
      const params = oauth.validateAuthResponse(as, rpClient(c), q, req.state);
      const { tokens, claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
      secrets.add('access_token', tokens.access_token);
      assert.equal(claims.sub, world.subject.sub);
      assert.equal(claims.iss, world.issuer);

      // Reuse, by a fresh browser and by the same browser (which holds an
      // upstream session): an error page, never a login page or a redirect.
      for (const [who, ua] of [['a fresh browser', user()], ['the same browser', agent]]) {
        const again = await ua.authorize(authUrl, c.redirectUri);
        assert.equal(again.kind, 'page', `${who}: expected an error page, got ${again.kind} ${again.url?.href ?? ''}`);
        assert.equal(again.status, 400, who);
        assert.match(again.html, /invalid_request_uri/, who);
        assert.deepEqual(world.interactions(ua), [], `${who}: no login or consent page`);
        assert.equal(ua.history.at(-1).url, authUrl.href, `${who}: answered by the authorization endpoint itself`);
      }
    }));

    test('1b. reloading the authorization page before login finishes still works (RFC 9126 section 4)', withLogs(async () => {
      const c = C(CLIENTS.basic);
      const req = await newRequest(c);
      const pushed = await push(as, c, req.params);
      secrets.add('request_uri', pushed.request_uri);
      const authUrl = authorizationUrl(as, { client_id: c.id, request_uri: pushed.request_uri });
      const ua = user();
      // First load: up to the login page, then abandon it.
      const first = await ua.request(authUrl);
      await first.arrayBuffer();
      assert.ok([302, 303].includes(first.status), `redirected to the login page: ${first.status}`);
      assert.ok(!first.headers.get('location').startsWith(c.redirectUri), 'not yet to the client');
      const result = await ua.authorize(authUrl, c.redirectUri);
      assert.equal(result.kind, 'redirect', `got ${result.kind} ${result.status} ${result.html?.slice(0, 300)}`);
      const params = oauth.validateAuthResponse(as, rpClient(c), result.url.searchParams, req.state);
      secrets.addParams(params);
      await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    }));

    test('1c. a client registered with require_pushed_authorization_requests is refused without PAR, and its PAR flow completes', withLogs(async () => {
      const c = C(CLIENTS.parOnly);
      const plain = await plainFlow(as, c);
      assert.notEqual(plain.result.kind, 'form_post');
      assert.deepEqual(world.interactions(plain.agent), [], 'no login page without PAR');
      const err = plain.result.kind === 'page' ? plain.result.html : plain.result.url.href;
      assert.match(err, /invalid_request/);
      assert.doesNotMatch(err, /code=/);

      // With PAR the upstream re-enters its own authorization endpoint after
      // login and consent (oidc-provider: /auth/<uid>; Hydra: the expanded
      // query plus login_verifier, then consent_verifier); the gateway must
      // let that through.
      const { req, result } = await parFlow(as, c, {}, { secrets });
      assert.equal(result.kind, 'redirect', `got ${result.kind} ${result.status} ${result.html?.slice(0, 300)}`);
      const params = oauth.validateAuthResponse(as, rpClient(c), result.url.searchParams, req.state);
      await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    }));

    test('2. PAR with a signed request object (JAR) and private_key_jwt client authentication', withLogs(async () => {
      const c = C(CLIENTS.jwt);
      const { req, pushed, result } = await parFlow(as, c, {}, {
        secrets,
        pushParams: async (params) => ({ client_id: c.id, request: await signedRequestObject(as, c, params) }),
      });
      assert.ok(pushed.expires_in > 0);
      assert.equal(result.kind, 'redirect', `got ${result.kind} ${result.status} ${result.html?.slice(0, 300)}`);
      const params = oauth.validateAuthResponse(as, rpClient(c), result.url.searchParams, req.state);
      // private_key_jwt again at the token endpoint, through the gateway.
      const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
      assert.equal(claims.sub, world.subject.sub);
      assert.deepEqual([claims.aud].flat(), [c.id]);
    }));

    test('2b. a request object signed with a key the client did not register is refused with invalid_request_object; a bad assertion with invalid_client', withLogs(async () => {
      const c = C(CLIENTS.jwt);
      const other = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
      const req = await newRequest(c);
      const forged = await signedRequestObject(as, { ...c, privateKey: other.privateKey }, req.params);
      const res = await pushRaw(as, c, { client_id: c.id, request: forged });
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error, 'invalid_request_object');

      const badAuth = await pushRaw(as, { ...c, privateKey: other.privateKey }, req.params);
      assert.equal(badAuth.status, 401);
      assert.equal((await badAuth.json()).error, 'invalid_client');
    }, { flow: false }));

    for (const mode of JWT_MODES) {
      const base = mode === 'jwt' ? 'query' : mode.replace('.jwt', '');
      test(`3. JARM response_mode=${mode}${mode === 'jwt' ? ' (query.jwt for code)' : ''}: validated by oauth4webapi, code redeemed`, withLogs(async () => {
        const c = C(CLIENTS.basic);
        const { req, result } = await plainFlow(as, c, { response_mode: mode }, { secrets });
        const delivered = expectJarmDelivery(result, base, c.redirectUri);
        const { payload } = expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'RS256', jwks });
        assert.equal(payload.state, req.state);
        assert.equal(typeof payload.code, 'string');
        if (base === 'form_post') {
          const posted = await world.callback.waitFor((e) => e.source === 'form' && e.params.get('response') === delivered.get('response'));
          assert.equal(posted.contentType, 'application/x-www-form-urlencoded');
        }
        const params = await validateJarm(as, c, delivered, req.state);
        assert.equal(params.get('code'), payload.code);
        const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
        assert.equal(claims.sub, world.subject.sub);
      }));
    }

    test('3b. JARM signed with each algorithm a client registers: PS256, ES256, and EdDSA for a "code id_token" response in jwt mode (fragment.jwt)', withLogs(async () => {
      // PS256: private_key_jwt client, fragment.jwt.
      {
        const c = C(CLIENTS.jwt);
        const { req, result } = await plainFlow(as, c, { response_mode: 'fragment.jwt' }, { secrets });
        const delivered = expectJarmDelivery(result, 'fragment', c.redirectUri);
        expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'PS256', jwks });
        const params = await validateJarm(as, c, delivered, req.state);
        await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
      }
      // ES256: public client, form_post.jwt.
      {
        const c = C(CLIENTS.public);
        const { req, result } = await plainFlow(as, c, { response_mode: 'form_post.jwt' }, { secrets });
        const delivered = expectJarmDelivery(result, 'form_post', c.redirectUri);
        expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'ES256', jwks });
        const params = await validateJarm(as, c, delivered, req.state);
        await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
      }
      // EdDSA: hybrid client, "code id_token" with response_mode=jwt → fragment.jwt.
      {
        const c = C(CLIENTS.hybrid);
        const { req, result } = await plainFlow(as, c, { response_type: 'code id_token', response_mode: 'jwt' }, { secrets });
        const delivered = expectJarmDelivery(result, 'fragment', c.redirectUri);
        const { payload } = expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'EdDSA', jwks });
        assert.equal(payload.state, req.state);
        assert.equal(typeof payload.id_token, 'string');
        // oauth4webapi verifies the JARM JWT (signature, iss, aud, exp, state)
        // and only then refuses, because its validateAuthResponse does not do
        // hybrid responses; the ID Token is then checked as a hybrid response.
        await assert.rejects(validateJarm(as, c, delivered, req.state), (err) => err instanceof oauth.UnsupportedOperationError && /hybrid/.test(err.message));
        const inner = new URLSearchParams(Object.entries(payload).filter(([k, v]) => typeof v === 'string' && k !== 'aud'));
        const params = await oauth.validateCodeIdTokenResponse(as, rpClient(c), inner, req.nonce, req.state, undefined, OPTS);
        const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
        assert.equal(claims.sub, world.subject.sub);
      }
    }));

    test('3c. query.jwt with a response type that returns an ID Token is refused at the push (JARM section 2.3.1, unencrypted)', withLogs(async () => {
      const c = C(CLIENTS.hybrid);
      const { params } = await newRequest(c, { response_type: 'code id_token', response_mode: 'query.jwt' });
      const res = await pushRaw(as, c, params);
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error, 'invalid_request');
    }, { flow: false }));

    test('4. PAR + JARM together (response_mode pushed): public client with PKCE, query.jwt signed ES256', withLogs(async () => {
      const c = C(CLIENTS.public);
      const { req, authUrl, result } = await parFlow(as, c, { response_mode: 'query.jwt' }, { secrets });
      assert.ok(!authUrl.searchParams.has('response_mode'), 'the mode travels inside the pushed request');
      const delivered = expectJarmDelivery(result, 'query', c.redirectUri);
      const { payload } = expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'ES256', jwks });
      assert.equal(payload.state, req.state);
      const params = await validateJarm(as, c, delivered, req.state);
      const { tokens } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
      secrets.add('access_token', tokens.access_token);
      // PKCE is enforced end to end: the same flow with a wrong verifier fails.
      const again = await parFlow(as, c, { response_mode: 'query.jwt' }, { secrets });
      const p2 = await validateJarm(as, c, expectJarmDelivery(again.result, 'query', c.redirectUri), again.req.state);
      await assert.rejects(redeem(as, c, p2, { codeVerifier: oauth.generateRandomCodeVerifier(), nonce: again.req.nonce }), (err) => err.error === 'invalid_grant');
    }));

    test('4b. a public client that pushes without PKCE is refused with invalid_request', withLogs(async () => {
      const c = C(CLIENTS.public);
      const { params } = await newRequest(c, { code_challenge: undefined, code_challenge_method: undefined });
      const res = await pushRaw(as, c, params);
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error, 'invalid_request');
    }, { flow: false }));

    test('5. the user denies: the client receives a JARM JWT with error=access_denied and its original state', withLogs(async () => {
      const c = C(CLIENTS.basic);
      const { req, result, agent } = await parFlow(as, c, { response_mode: 'query.jwt' }, { secrets, agent: user({ decision: 'deny' }) });
      assert.deepEqual(world.interactions(agent), ['login', 'consent']);
      const delivered = expectJarmDelivery(result, 'query', c.redirectUri);
      const { payload } = expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'RS256', jwks });
      assert.equal(payload.error, 'access_denied');
      assert.equal(payload.state, req.state);
      assert.equal(payload.code, undefined);
      await assert.rejects(validateJarm(as, c, delivered, req.state), (err) => err instanceof oauth.AuthorizationResponseError && err.error === 'access_denied' && err.cause.get('state') === req.state);
    }));

    test('6. a plain code flow without PAR or JARM works unchanged through the gateway', withLogs(async () => {
      const c = C(CLIENTS.basic);
      const { req, authUrl, result, agent } = await plainFlow(as, c, {}, { secrets });
      assert.equal(new URL(authUrl).origin, world.issuer);
      assert.deepEqual(world.interactions(agent), ['login', 'consent']);
      assert.equal(result.kind, 'redirect');
      const q = result.url.searchParams;
      assert.deepEqual([...q.keys()].sort(), world.plainResponseKeys, "the upstream's own response parameters");
      assert.equal(q.get('state'), req.state);
      const params = oauth.validateAuthResponse(as, rpClient(c), q, req.state);
      const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
      assert.equal(claims.sub, world.subject.sub);
      // Userinfo passes through too.
      const { tokens } = await (async () => {
        const r = await plainFlow(as, c, {}, { secrets });
        const p = oauth.validateAuthResponse(as, rpClient(c), r.result.url.searchParams, r.req.state);
        return redeem(as, c, p, { codeVerifier: r.req.codeVerifier, nonce: r.req.nonce });
      })();
      secrets.add('access_token', tokens.access_token);
      const ui = await oauth.userInfoRequest(as, rpClient(c), tokens.access_token, OPTS);
      const info = await oauth.processUserInfoResponse(as, rpClient(c), world.subject.sub, ui);
      assert.equal(info.email, world.subject.email);
    }));

    test('6b. a plain hybrid "code id_token" flow (fragment) passes through unchanged', withLogs(async () => {
      const c = C(CLIENTS.hybrid);
      const { req, authUrl, result } = await plainFlow(as, c, { response_type: 'code id_token' }, { secrets });
      assert.equal(new URL(authUrl).origin, world.issuer);
      assert.equal(result.kind, 'redirect');
      const frag = new URLSearchParams(result.url.hash.slice(1));
      assert.deepEqual([...frag.keys()].sort(), ['code', 'id_token', 'state']);
      const params = await oauth.validateCodeIdTokenResponse(as, rpClient(c), frag, req.nonce, req.state, undefined, OPTS);
      await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    }));

    test("the gateway's debug log never contains a client secret, request_uri, code, token or JARM response", withLogs(async () => {
      assert.ok(secrets.values.size > 20, `collected ${secrets.values.size} secrets`);
      const leaks = secrets.leaks(world.gateway.logs());
      assert.deepEqual(leaks, []);
    }));
  });
}

/**
 * replicaScenarios defines, in a describe block named label, scenario 7 of
 * issue 5 against the two-replica, one-Redis world start() resolves to.
 */
export function replicaScenarios(label, start) {
  describe(label, () => {
    let world;
    let A;
    let B;
    let as;

    before(async () => {
      world = await start();
      [A, B] = world.gateways;
      as = await discover(world.issuer, viaOrigin(A.url));
    });

    after(async () => {
      await world?.close();
    });

    // Prints the gateway's and upstream's last log lines when a test fails.
    const withLogs = logsOnFailure(() => ({ world, as }));

    // alternate returns a UserAgent route that sends the n-th request bound
    // for the gateway to B when n is even, to A when odd (push was on A).
    // Requests elsewhere (the client's callback, a login app on its own
    // origin) go where they were addressed and are not counted.
    const alternate = () => {
      let n = 0;
      return (url) => {
        const u = new URL(url);
        if (u.origin !== A.url && u.origin !== B.url) return url;
        u.host = new URL(n++ % 2 === 0 ? B.url : A.url).host;
        return u.href;
      };
    };
    // gatewayHops lists the replica origins that served the agent's requests.
    const gatewayHops = (agent) => agent.history.map((h) => new URL(h.url).origin).filter((o) => o === A.url || o === B.url);

    test('both replicas serve the same discovery document and key set', withLogs(async () => {
      const viaB = await discover(world.issuer, viaOrigin(B.url));
      assert.equal(viaB.issuer, as.issuer);
      assert.equal(viaB.pushed_authorization_request_endpoint, as.pushed_authorization_request_endpoint);
      const kids = async (g) => (await (await fetch(new URL(new URL(as.jwks_uri).pathname, g.url))).json()).keys.map((k) => k.kid).sort();
      assert.deepEqual(await kids(A), await kids(B));
    }, { flow: false }));

    for (const mode of ['query.jwt', 'form_post.jwt']) {
      test(`7. a PAR + JARM (${mode}) flow completes with every request sent to the other replica in turn`, withLogs(async () => {
        const c = world.clients[CLIENTS.basic];
        const req = await newRequest(c, { response_mode: mode });
        const pushed = await push(as, c, req.params, viaOrigin(A.url)); // push on A
        const authUrl = authorizationUrl(as, { client_id: c.id, request_uri: pushed.request_uri });
        const agent = world.user({ route: alternate() });
        const result = await agent.authorize(authUrl, c.redirectUri);

        const served = gatewayHops(agent);
        assert.equal(served[0], B.url, 'authorize on B');
        assert.equal(served[1], A.url, 'the next step (login page or re-entry after login) through A');
        assert.ok(served.length >= 3, `at least three requests through the gateway: ${served}`);
        for (let i = 1; i < served.length; i++) assert.notEqual(served[i], served[i - 1], `gateway request ${i} switched replica`);
        assert.deepEqual(world.interactions(agent), ['login', 'consent']);

        const delivered = expectJarmDelivery(result, mode === 'query.jwt' ? 'query' : 'form_post', c.redirectUri);
        const { payload } = expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'RS256' });
        assert.equal(payload.state, req.state);
        // The response to the client came from a replica (the one that did
        // not serve the gateway request before it).
        assert.ok([A.url, B.url].includes(new URL(agent.history.at(-1).url).origin), 'the last request before the callback went to the gateway');

        const params = await validateJarm(as, c, delivered, req.state, viaOrigin(B.url));
        const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce, options: viaOrigin(B.url) }); // token via B
        assert.equal(claims.sub, world.subject.sub);

        // Single use holds across replicas: the request_uri is dead on both.
        for (const g of [A, B]) {
          const u = new URL(authUrl);
          u.host = new URL(g.url).host;
          const again = await world.user().authorize(u, c.redirectUri);
          assert.equal(again.kind, 'page', `${g.name}: ${again.kind}`);
          assert.equal(again.status, 400, g.name);
          assert.match(again.html, /invalid_request_uri/, g.name);
        }
      }));
    }

    test('7b. a JARM flow without PAR started on B completes through A (the transaction lives in Redis)', withLogs(async () => {
      const c = world.clients[CLIENTS.jwt];
      const req = await newRequest(c, { response_mode: 'fragment.jwt' });
      const authUrl = authorizationUrl(as, req.params);
      const agent = world.user({ route: alternate() });
      const result = await agent.authorize(authUrl, c.redirectUri);
      assert.equal(gatewayHops(agent)[0], B.url, 'started on B');
      const delivered = expectJarmDelivery(result, 'fragment', c.redirectUri);
      const params = await validateJarm(as, c, delivered, req.state, viaOrigin(A.url));
      const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce, options: viaOrigin(A.url) });
      assert.equal(claims.sub, world.subject.sub);
    }));
  });
}
