// A second client library next to oauth4webapi: openid-client v5, with its
// own PAR (client.pushedAuthorizationRequest) and its own JARM validation
// (client.callback validates the `response` JWT when the client metadata
// names authorization_signed_response_alg: signature with the issuer's
// jwks_uri, iss, aud, exp), then the code redeemed and the ID Token
// validated by openid-client. Written as an application using openid-client
// would: Issuer.discover, issuer.Client, authorizationUrl({ request_uri }),
// callbackParams, callback. Run in front of both upstreams.
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { errors, generators, Issuer } from 'openid-client';

import { decodeJwt } from '../lib/client.mjs';
import { CLIENTS } from '../lib/fixtures.mjs';
import { expectJarmClaims, expectJarmDelivery, logsOnFailure } from '../lib/flows.mjs';
import { startHydraWorld } from '../lib/hydra.mjs';
import { startWorld } from '../lib/world.mjs';

/** rpClient is the openid-client Client of fixture client c. */
async function rpClient(issuer, c) {
  const metadata = {
    client_id: c.id,
    redirect_uris: [c.redirectUri],
    response_types: ['code'],
    token_endpoint_auth_method: c.authMethod,
    // The gateway signs JARM with the client's registered alg, RS256 by default.
    authorization_signed_response_alg: c.jarmAlg ?? 'RS256',
  };
  if (c.secret) metadata.client_secret = c.secret;
  if (c.authMethod !== 'private_key_jwt') return new issuer.Client(metadata);
  metadata.token_endpoint_auth_signing_alg = 'ES256';
  const jwk = { ...(await webcrypto.subtle.exportKey('jwk', c.privateKey)), kid: c.kid, alg: 'ES256', use: 'sig' };
  delete jwk.key_ops;
  delete jwk.ext;
  return new issuer.Client(metadata, { keys: [jwk] });
}

/**
 * pushAndAuthorize pushes a code request with PKCE, state and nonce (and
 * extra) with client.pushedAuthorizationRequest, opens
 * client.authorizationUrl({ request_uri }) in the world's user agent and
 * resolves to { checks, pushed, authUrl, agent, result }.
 */
async function pushAndAuthorize(world, client, c, extra = {}, { agent } = {}) {
  const codeVerifier = generators.codeVerifier();
  const checks = { state: generators.state(), nonce: generators.nonce(), code_verifier: codeVerifier, response_type: 'code', jarm: true };
  const pushed = await client.pushedAuthorizationRequest({
    redirect_uri: c.redirectUri,
    scope: 'openid email',
    state: checks.state,
    nonce: checks.nonce,
    code_challenge: generators.codeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    ...extra,
  });
  const authUrl = new URL(client.authorizationUrl({ request_uri: pushed.request_uri }));
  const ua = agent ?? world.user();
  const result = await ua.authorize(authUrl, c.redirectUri);
  return { checks, pushed, authUrl, agent: ua, result };
}

/** tokenOptions are client.callback's extras for c in world (see e2e/lib/client.mjs redeem). */
function tokenOptions(issuer, c) {
  return c.tokenAssertionAudience === 'token_endpoint' ? { clientAssertionPayload: { aud: issuer.token_endpoint } } : {};
}

function openidClientScenarios(label, start) {
  describe(label, () => {
    let world;
    let as; // the discovery document, for logsOnFailure
    let issuer;
    const withLogs = logsOnFailure(() => ({ world, as }));

    before(async () => {
      world = await start();
      issuer = await Issuer.discover(world.issuer);
      as = issuer.metadata;
    });

    after(async () => {
      await world?.close();
    });

    test('Issuer.discover through the gateway finds the PAR endpoint and the JWT response modes', withLogs(async () => {
      assert.equal(issuer.issuer, world.issuer);
      assert.equal(issuer.pushed_authorization_request_endpoint, `${world.issuer}/par`);
      for (const m of ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt']) {
        assert.ok(issuer.response_modes_supported.includes(m), `response_modes_supported has ${m}: ${issuer.response_modes_supported}`);
      }
    }));

    // assertTokens checks the token set client.callback returned: openid-client
    // has already verified the ID Token (signature through jwks_uri, iss,
    // aud, exp, nonce) before it resolves.
    // authorizationUrl({ request_uri }) also writes openid-client's defaults
    // (scope=openid, response_type, redirect_uri) into the URL; the scope
    // granted is still the pushed one ("openid email").
    function assertTokens(tokens, c) {
      assert.ok(tokens.access_token, 'an access token');
      assert.ok(tokens.scope?.split(' ').includes('email'), `the pushed scope was granted: ${tokens.scope}`);
      const claims = tokens.claims();
      assert.equal(claims.iss, world.issuer);
      assert.equal(claims.sub, world.subject.sub);
      assert.deepEqual([claims.aud].flat(), [c.id]);
    }

    test('PAR + query.jwt (client_secret_basic, JARM RS256): client.callback validates the JARM response and redeems the code', withLogs(async () => {
      const c = world.clients[CLIENTS.basic];
      const client = await rpClient(issuer, c);
      const { checks, pushed, authUrl, agent, result } = await pushAndAuthorize(world, client, c, { response_mode: 'query.jwt' });
      assert.ok(pushed.expires_in > 0 && pushed.expires_in <= 60, `expires_in ${pushed.expires_in}`);
      assert.equal(authUrl.searchParams.get('request_uri'), pushed.request_uri);
      assert.deepEqual([...authUrl.searchParams.keys()].sort(), ['client_id', 'redirect_uri', 'request_uri', 'response_type', 'scope'], "openid-client's authorization URL");
      assert.equal(authUrl.searchParams.get('scope'), 'openid', "openid-client's default scope, not the pushed one");
      assert.deepEqual(world.interactions(agent), ['login', 'consent']);
      const delivered = expectJarmDelivery(result, 'query', c.redirectUri);
      const { payload } = expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'RS256' });
      assert.equal(payload.state, checks.state);
      const params = client.callbackParams(result.url.href);
      assertTokens(await client.callback(c.redirectUri, params, checks, tokenOptions(issuer, c)), c);
    }));

    test('PAR + form_post.jwt (public client, PKCE, JARM ES256): the callback server gets the POSTed response, client.callback redeems it', withLogs(async () => {
      const c = world.clients[CLIENTS.public];
      const client = await rpClient(issuer, c);
      const { checks, result } = await pushAndAuthorize(world, client, c, { response_mode: 'form_post.jwt' });
      const delivered = expectJarmDelivery(result, 'form_post', c.redirectUri);
      expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'ES256' });
      const posted = await world.callback.waitFor((e) => e.source === 'form' && e.params.get('response') === delivered.get('response'));
      assert.equal(posted.contentType, 'application/x-www-form-urlencoded');
      // What a node callback handler hands openid-client: the POST with its parsed body.
      const params = client.callbackParams({ method: 'POST', url: posted.path, body: posted.params.toString() });
      assertTokens(await client.callback(c.redirectUri, params, checks), c);
    }));

    test('PAR + fragment.jwt (private_key_jwt, JARM PS256): the fragment\'s JARM response validates and the code redeems', withLogs(async () => {
      const c = world.clients[CLIENTS.jwt];
      const client = await rpClient(issuer, c);
      const { checks, result } = await pushAndAuthorize(world, client, c, { response_mode: 'fragment.jwt' });
      const delivered = expectJarmDelivery(result, 'fragment', c.redirectUri);
      expectJarmClaims(delivered.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'PS256' });
      // The page's script reads location.hash and hands it to the server.
      const params = Object.fromEntries(new URLSearchParams(result.url.hash.slice(1)));
      assertTokens(await client.callback(c.redirectUri, params, checks, tokenOptions(issuer, c)), c);
    }));

    test('PAR + query.jwt, the user denies: client.callback throws access_denied from the verified JARM response', withLogs(async () => {
      const c = world.clients[CLIENTS.basic];
      const client = await rpClient(issuer, c);
      const { checks, result } = await pushAndAuthorize(world, client, c, { response_mode: 'query.jwt' }, { agent: world.user({ decision: 'deny' }) });
      expectJarmDelivery(result, 'query', c.redirectUri);
      await assert.rejects(client.callback(c.redirectUri, client.callbackParams(result.url.href), checks), (err) => err instanceof errors.OPError && err.error === 'access_denied' && err.state === checks.state);
    }));

    test('a JARM response whose signature does not verify, or for another client, is refused by openid-client before any token request', withLogs(async () => {
      const c = world.clients[CLIENTS.basic];
      const client = await rpClient(issuer, c);
      const { checks, result } = await pushAndAuthorize(world, client, c, { response_mode: 'query.jwt' });
      const jwt = expectJarmDelivery(result, 'query', c.redirectUri).get('response');
      const [h, p, s] = jwt.split('.');
      const flipped = `${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
      await assert.rejects(client.callback(c.redirectUri, { response: `${h}.${p}.${flipped}` }, checks), (err) => err instanceof errors.RPError && /signature/i.test(err.message));
      // The genuine response, but presented to another client: wrong aud.
      const other = await rpClient(issuer, world.clients[CLIENTS.parOnly]);
      assert.equal(decodeJwt(jwt).payload.aud, c.id);
      await assert.rejects(other.callback(world.clients[CLIENTS.parOnly].redirectUri, { response: jwt }, checks), (err) => err instanceof errors.RPError && /aud/.test(err.message));
      // Untouched, it still redeems: the refusals above were about the JWT.
      assertTokens(await client.callback(c.redirectUri, { response: jwt }, checks), c);
    }));
  });
}

openidClientScenarios('openid-client v5 through the gateway in front of node oidc-provider', () => startWorld({ gateways: 1 }));
openidClientScenarios('openid-client v5 through the gateway in front of ORY Hydra v2.3.0', () => startHydraWorld());
