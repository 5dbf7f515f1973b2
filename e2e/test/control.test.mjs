// Control experiment: the suite's client side (oauth4webapi helpers, the
// scripted user agent, the JARM delivery checks) run against oidc-provider
// with its OWN PAR, JAR and JARM switched on, no gateway. When a gateway
// scenario fails while these pass, the gateway is at fault, not the test code.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { UserAgent } from '../agent.mjs';
import { discover, oauth, OPTS, redeem, rpClient, signedRequestObject, validateJarm } from '../lib/client.mjs';
import { startCallbackServer } from '../lib/callback.mjs';
import { CLIENTS, makeWorldConfig, signingKeys, upstreamKeys, USER } from '../lib/fixtures.mjs';
import { expectJarmClaims, expectJarmDelivery, parFlow, plainFlow } from '../lib/flows.mjs';
import { freePort } from '../lib/net.mjs';
import { startUpstream } from '../upstream.mjs';

describe('control: the same client code against a server with native PAR, JAR and JARM', () => {
  let cb;
  let server;
  let cfg;
  let as;
  let issuer;

  before(async () => {
    cb = await startCallbackServer();
    cfg = await makeWorldConfig(cb.url);
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    const clients = cfg.upstream.map((c) => ({ ...c, authorization_signed_response_alg: cfg.clients[c.client_id].jarmAlg ?? 'RS256' }));
    server = await startUpstream({
      port,
      issuer,
      clients,
      jwks: { keys: [...upstreamKeys().keys, ...signingKeys().keys.slice(1)] },
      features: {
        pushedAuthorizationRequests: { enabled: true },
        jwtResponseModes: { enabled: true },
        requestObjects: { enabled: true },
      },
    });
    as = await discover(issuer);
  });

  after(async () => {
    await server?.close();
    await cb?.close();
  });

  for (const [id, mode, base, alg] of [
    [CLIENTS.basic, 'query.jwt', 'query', 'RS256'],
    [CLIENTS.jwt, 'fragment.jwt', 'fragment', 'PS256'],
    [CLIENTS.public, 'form_post.jwt', 'form_post', 'ES256'],
    [CLIENTS.basic, 'jwt', 'query', 'RS256'],
  ]) {
    test(`control: PAR + ${mode} (${alg}) validates and redeems`, async () => {
      const c = cfg.clients[id];
      const { req, result } = await parFlow(as, c, { response_mode: mode });
      // oidc-provider's own form_post page sets no CSP header; the gateway's must.
      const delivered = expectJarmDelivery(result, base, c.redirectUri, { requireCsp: false });
      expectJarmClaims(delivered.get('response'), { issuer, clientId: c.id, alg });
      const params = await validateJarm(as, c, delivered, req.state);
      const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
      assert.equal(claims.sub, USER.sub);
    });
  }

  test('control: deny comes back as a JARM access_denied with the state', async () => {
    const c = cfg.clients[CLIENTS.basic];
    const agent = new UserAgent({ username: USER.username, password: USER.password, decision: 'deny' });
    const { req, result } = await parFlow(as, c, { response_mode: 'query.jwt' }, { agent });
    const delivered = expectJarmDelivery(result, 'query', c.redirectUri);
    await assert.rejects(validateJarm(as, c, delivered, req.state), (err) => err instanceof oauth.AuthorizationResponseError && err.error === 'access_denied' && err.cause.get('state') === req.state);
  });

  test('control: "code id_token" in jwt mode is fragment.jwt; the ID Token validates as a hybrid response', async () => {
    const c = cfg.clients[CLIENTS.hybrid];
    const { req, result } = await plainFlow(as, c, { response_type: 'code id_token', response_mode: 'jwt' });
    const delivered = expectJarmDelivery(result, 'fragment', c.redirectUri);
    const { payload } = expectJarmClaims(delivered.get('response'), { issuer, clientId: c.id, alg: 'EdDSA' });
    await assert.rejects(validateJarm(as, c, delivered, req.state), (err) => err instanceof oauth.UnsupportedOperationError);
    const inner = new URLSearchParams(Object.entries(payload).filter(([k, v]) => typeof v === 'string' && k !== 'aud'));
    const params = await oauth.validateCodeIdTokenResponse(as, rpClient(c), inner, req.nonce, req.state, undefined, OPTS);
    await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
  });

  test('control: PAR with a signed request object and private_key_jwt', async () => {
    const c = cfg.clients[CLIENTS.jwt];
    const { req, result } = await parFlow(as, c, {}, {
      pushParams: async (params) => ({ client_id: c.id, request: await signedRequestObject(as, c, params) }),
    });
    const params = oauth.validateAuthResponse(as, rpClient(c), result.url.searchParams, req.state);
    const { claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    assert.equal(claims.sub, USER.sub);
  });
});
