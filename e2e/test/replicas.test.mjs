// Scenario 7: two gateway replicas sharing one Redis (a private
// redis-server), the same signing keys and the same public issuer. Every
// request of a flow goes to the other replica in turn: push on A, authorize
// on B, login on A, ... and the code is redeemed through the other one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { UserAgent } from '../agent.mjs';
import { authorizationUrl, discover, newRequest, push, redeem, validateJarm, viaOrigin } from '../lib/client.mjs';
import { CLIENTS, USER } from '../lib/fixtures.mjs';
import { assertGatewayFronts, expectJarmClaims, expectJarmDelivery } from '../lib/flows.mjs';
import { startWorld } from '../lib/world.mjs';

describe('two gateway replicas on one Redis', () => {
  let world;
  let A;
  let B;
  let as;

  before(async () => {
    world = await startWorld({ gateways: 2, redis: true });
    [A, B] = world.gateways;
    as = await discover(world.issuer, viaOrigin(A.url));
  });

  after(async () => {
    await world?.close();
  });

  const withLogs = (fn, { flow = true } = {}) => async (t) => {
    try {
      if (flow) assertGatewayFronts(as, world.issuer);
      await fn(t);
    } catch (err) {
      if (world) t.diagnostic(world.logs());
      throw err;
    }
  };

  /** alternate sends hop n to B when n is even, to A when odd (push was on A). */
  const alternate = (url, hop) => {
    const u = new URL(url);
    if (u.origin !== A.url && u.origin !== B.url) return url; // the client's callback
    const target = new URL(hop % 2 === 0 ? B.url : A.url);
    u.host = target.host;
    return u.href;
  };

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
      const agent = new UserAgent({ username: USER.username, password: USER.password, route: alternate });
      const result = await agent.authorize(authUrl, c.redirectUri);

      const served = agent.history.map((h) => new URL(h.url).origin);
      assert.equal(served[0], B.url, 'authorize on B');
      assert.equal(served[1], A.url, 'the login page through A');
      for (let i = 1; i < served.length; i++) assert.notEqual(served[i], served[i - 1], `hop ${i} switched replica`);
      assert.deepEqual(agent.pages.map((p) => p.kind), ['login', 'consent']);

      const delivered = expectJarmDelivery(result, mode === 'query.jwt' ? 'query' : 'form_post', c.redirectUri);
      const { payload } = expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'RS256' });
      assert.equal(payload.state, req.state);
      // The callback came through the replica that did not serve the step before it.
      const last = agent.history.at(-1);
      assert.notEqual(new URL(last.url).origin, new URL(agent.history.at(-2).url).origin);

      const params = await validateJarm(as, c, delivered, req.state, viaOrigin(B.url));
      const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce, options: viaOrigin(B.url) }); // token via B
      assert.equal(claims.sub, USER.sub);

      // Single use holds across replicas: the request_uri is dead on both.
      for (const g of [A, B]) {
        const u = new URL(authUrl);
        u.host = new URL(g.url).host;
        const again = await new UserAgent({ username: USER.username, password: USER.password }).authorize(u, c.redirectUri);
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
    const agent = new UserAgent({ username: USER.username, password: USER.password, route: alternate });
    const result = await agent.authorize(authUrl, c.redirectUri);
    const delivered = expectJarmDelivery(result, 'fragment', c.redirectUri);
    const params = await validateJarm(as, c, delivered, req.state, viaOrigin(A.url));
    const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce, options: viaOrigin(A.url) });
    assert.equal(claims.sub, USER.sub);
  }));
});
