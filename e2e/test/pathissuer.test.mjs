// Issue 8: an issuer with a path. The legacy upstream (node oidc-provider)
// is mounted under /realms/bank, Keycloak-style (e2e/upstream.mjs
// mountPath), and its issuer is http://127.0.0.1:<gateway port>/realms/bank.
// The client knows only that issuer identifier: everything else comes from
// discovery, built by oauth4webapi both ways (OpenID Connect Discovery 1.0
// section 4: <issuer>/.well-known/openid-configuration; RFC 8414 section 3:
// /.well-known/oauth-authorization-server/realms/bank), and the whole PAR +
// JARM flow runs on the advertised URLs. The gateway is configured both ways
// an operator can say where the issuer lives (README "Issuers with a path"):
//   PARJARM_ISSUER        PARJARM_ISSUER=<gw>/realms/bank, PARJARM_UPSTREAM_URL=<upstream root>
//   PARJARM_UPSTREAM_URL  only PARJARM_UPSTREAM_URL=<upstream>/realms/bank (issuer from its discovery)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { OPTS, authorizationUrl, newRequest, oauth, pushRaw, redeem, rpClient, validateJarm } from '../lib/client.mjs';
import { CLIENTS, USER } from '../lib/fixtures.mjs';
import { expectJarmClaims, expectJarmDelivery, logsOnFailure } from '../lib/flows.mjs';
import { startWorld } from '../lib/world.mjs';

const ISSUER_PATH = '/realms/bank';

// The metadata members whose value is a URL (RFC 8414 section 2, OpenID
// Connect Discovery 1.0 section 3, RFC 9126 section 5, Back-Channel and
// RP-Initiated Logout): every one the document has is checked.
const URL_MEMBERS = [
  'issuer', 'authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'registration_endpoint',
  'revocation_endpoint', 'introspection_endpoint', 'end_session_endpoint', 'pushed_authorization_request_endpoint',
  'device_authorization_endpoint', 'backchannel_authentication_endpoint', 'check_session_iframe',
  'service_documentation', 'op_policy_uri', 'op_tos_uri',
];

/**
 * discoverOnly runs oauth4webapi's discovery for the issuer identifier with
 * the given algorithm ('oidc' or 'oauth2') and resolves to { as, requested }:
 * the validated metadata and the URL oauth4webapi fetched.
 */
async function discoverOnly(issuer, algorithm) {
  const requested = [];
  const options = {
    ...OPTS,
    algorithm,
    [oauth.customFetch]: (url, init) => {
      requested.push(String(url));
      return fetch(url, init);
    },
  };
  const issuerUrl = new URL(issuer);
  const as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, options));
  return { as, requested };
}

for (const via of ['PARJARM_ISSUER', 'PARJARM_UPSTREAM_URL']) {
  describe(`an issuer with a path (oidc-provider mounted under ${ISSUER_PATH}; the gateway told by ${via})`, () => {
    let world;
    let as;
    let origin;

    before(async () => {
      world = await startWorld({ issuerPath: ISSUER_PATH, issuerPathVia: via });
      origin = world.gateway.url;
      ({ as } = await discoverOnly(world.issuer, 'oidc'));
    });

    after(async () => {
      await world?.close();
    });

    const withLogs = logsOnFailure(() => ({ world, as }));

    test('the world is what it claims: a path issuer, an upstream that answers only under the path, the gateway configured as said', withLogs(async () => {
      assert.equal(world.issuer, `${origin}${ISSUER_PATH}`);
      assert.equal(world.gateway.env.PARJARM_ISSUER, via === 'PARJARM_ISSUER' ? world.issuer : undefined);
      assert.equal(world.gateway.env.PARJARM_UPSTREAM_URL, via === 'PARJARM_ISSUER' ? world.upstreamUrl : `${world.upstreamUrl}${ISSUER_PATH}`);
      const own = await fetch(`${world.upstreamUrl}${ISSUER_PATH}/.well-known/openid-configuration`);
      assert.equal(own.status, 200);
      assert.equal((await own.json()).issuer, world.issuer, "the upstream's own issuer is the path issuer");
      const root = await fetch(`${world.upstreamUrl}/.well-known/openid-configuration`);
      await root.arrayBuffer();
      assert.equal(root.status, 404, 'the upstream has nothing at the root');
    }));

    for (const algorithm of ['oidc', 'oauth2']) {
      test(`discovery (oauth4webapi algorithm '${algorithm}'): every URL is on the gateway's origin and under ${ISSUER_PATH}; PAR and the key set where the gateway publishes them`, withLogs(async () => {
        const { as: doc, requested } = await discoverOnly(world.issuer, algorithm);
        const expectedUrl = algorithm === 'oidc'
          ? `${world.issuer}/.well-known/openid-configuration` // OIDC Discovery 1.0 section 4.1
          : `${origin}/.well-known/oauth-authorization-server${ISSUER_PATH}`; // RFC 8414 section 3.1
        assert.deepEqual(requested, [expectedUrl]);
        assert.equal(doc.issuer, world.issuer, 'issuer matches the identifier the URL was built from (RFC 8414 section 3.3)');
        assert.equal(doc.pushed_authorization_request_endpoint, `${world.issuer}/par`);
        assert.equal(doc.jwks_uri, `${world.issuer}/.well-known/parjarm/jwks.json`);
        assert.equal(doc.authorization_endpoint, `${world.issuer}/auth`, "the upstream's own authorization endpoint, on the gateway's origin");
        assert.equal(doc.token_endpoint, `${world.issuer}/token`);
        for (const m of ['query.jwt', 'fragment.jwt', 'form_post.jwt', 'jwt']) assert.ok(doc.response_modes_supported.includes(m), `response_modes_supported has ${m}`);
        const urls = URL_MEMBERS.filter((m) => doc[m] !== undefined);
        assert.ok(urls.length >= 7, `URL members: ${urls}`);
        for (const m of urls) {
          if (m === 'issuer') continue;
          const u = new URL(doc[m]);
          assert.equal(u.origin, origin, `${m} ${doc[m]} is on the gateway's origin`);
          assert.ok(u.pathname.startsWith(`${ISSUER_PATH}/`), `${m} ${doc[m]} is under ${ISSUER_PATH}`);
        }
        // The gateway answers the URLs it advertises.
        const jwks = await fetch(doc.jwks_uri);
        assert.equal(jwks.status, 200);
        assert.ok((await jwks.json()).keys.some((k) => k.kid === 'parjarm-rs256'), "the gateway's JARM key is in the advertised key set");
        // The root documents are not the path issuer's (a client checks
        // issuer against the URL it built): they pass through to the
        // upstream, which has none.
        const root = await fetch(`${origin}/.well-known/openid-configuration`);
        await root.arrayBuffer();
        assert.equal(root.status, 404);
      }));

      test(`PAR + JARM (query.jwt) on discovery alone ('${algorithm}'): push 201, sign in under ${ISSUER_PATH}, JARM validated against the advertised jwks_uri, code redeemed, ID Token iss = the path issuer`, withLogs(async () => {
        const { as: doc } = await discoverOnly(world.issuer, algorithm);
        const c = world.clients[CLIENTS.basic];
        const req = await newRequest(c, { response_mode: 'query.jwt' });

        const res = await pushRaw(doc, c, req.params);
        assert.equal(res.status, 201, `PAR at ${doc.pushed_authorization_request_endpoint}`);
        const pushed = await oauth.processPushedAuthorizationResponse(doc, rpClient(c), res);
        assert.match(pushed.request_uri, /^urn:ietf:params:oauth:request_uri:/);

        const authUrl = authorizationUrl(doc, { client_id: c.id, request_uri: pushed.request_uri });
        const agent = world.user();
        const result = await agent.authorize(authUrl, c.redirectUri);
        assert.deepEqual(world.interactions(agent), ['login', 'consent']);
        for (const p of agent.pages) assert.ok(p.url.startsWith(`${world.issuer}/interaction/`), `the upstream's ${p.kind} page ${p.url} is under the path issuer, through the gateway`);

        const params = expectJarmDelivery(result, 'query', c.redirectUri);
        const jwks = await (await fetch(doc.jwks_uri)).json();
        const { payload } = expectJarmClaims(params.get('response'), { issuer: world.issuer, clientId: c.id, alg: 'RS256', jwks });
        assert.equal(payload.state, req.state);
        // oauth4webapi fetches doc.jwks_uri itself to verify the signature.
        const validated = await validateJarm(doc, c, params, req.state);
        assert.equal(validated.get('code'), payload.code);
        assert.equal(validated.get('iss'), world.issuer);

        const { tokens, claims } = await redeem(doc, c, validated, { codeVerifier: req.codeVerifier, nonce: req.nonce });
        assert.ok(tokens.access_token);
        assert.equal(claims.iss, world.issuer, 'the ID Token names the path issuer');
        assert.equal(claims.sub, USER.sub);
        assert.deepEqual([claims.aud].flat(), [c.id]);
      }));
    }
  });
}
