// Issue 9, "FAPI deployments", end to end: a real client library
// (oauth4webapi, with a customFetch over node:https that presents a client
// certificate) over mutual TLS (RFC 8705) through the gateway's TLS
// listener to the real upstream (oidc-provider). The upstream is a legacy
// server behind a load balancer: its own mTLS feature reads the client
// certificate from the header the gateway writes
// (PARJARM_UPSTREAM_CLIENT_CERT_HEADER, nginx format), authenticates the
// client with tls_client_auth at its token endpoint and binds the access
// token to the certificate (cnf x5t#S256, RFC 8705 section 3). The gateway
// authenticates the same client at its PAR endpoint from the TLS handshake.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { decodeJwt, oauth, push, pushRaw, redeem, rpClient, validateJarm, clientAuth } from '../lib/client.mjs';
import { CLIENTS } from '../lib/fixtures.mjs';
import { assertGatewayFronts, logsOnFailure, parFlow } from '../lib/flows.mjs';
import { startWorld } from '../lib/world.mjs';

describe('mutual TLS (RFC 8705): oauth4webapi through the gateway to oidc-provider', () => {
  let world;
  let as;
  let withCert; // oauth4webapi options: trust the test CA, present the client certificate
  let noCert; // trust the test CA, no client certificate
  const withLogs = logsOnFailure(() => ({ world, as }));
  const C = () => world.clients[CLIENTS.mtls];

  before(async () => {
    world = await startWorld({ tls: true });
    withCert = { [oauth.customFetch]: world.tlsFetch(true) };
    noCert = { [oauth.customFetch]: world.tlsFetch(false) };
    const issuerUrl = new URL(world.issuer);
    as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, { ...noCert, algorithm: 'oidc' }));
    assertGatewayFronts(as, world.issuer);
  });
  after(async () => {
    await world?.close();
  });

  /** jarmCode runs PAR (over mTLS) + authorization + JARM (response_mode=jwt) and returns the validated parameters. */
  async function jarmCode() {
    const c = C();
    const flow = await parFlow(as, c, { response_mode: 'jwt' }, { agent: world.user(), pushOptions: withCert });
    assert.equal(flow.result.kind, 'redirect', `flow ended on ${flow.result.kind} ${flow.result.status}: ${flow.result.html?.slice(0, 300)}`);
    const response = flow.result.url.searchParams.get('response');
    assert.ok(response, `a JARM response in the query: ${flow.result.url}`);
    const { header, payload } = decodeJwt(response);
    assert.equal(header.alg, 'PS256');
    assert.equal(payload.iss, world.issuer);
    assert.equal(payload.aud, c.id);
    const params = await validateJarm(as, c, flow.result.url.searchParams, flow.req.state, withCert);
    assert.ok(params.get('code'));
    return { params, req: flow.req };
  }

  /** tokenRequest redeems the code with options and returns { status, body }. */
  async function tokenRequest(params, req, options) {
    const c = C();
    const res = await oauth.authorizationCodeGrantRequest(as, rpClient(c), clientAuth(c), params, c.redirectUri, req.codeVerifier, options);
    return { status: res.status, body: await res.json() };
  }

  const pemOf = (header) => new X509Certificate(decodeURIComponent(header)).toString();

  test('discovery over TLS: an https issuer, the PAR endpoint\'s mTLS alias, the upstream\'s certificate-bound tokens', withLogs(async () => {
    assert.equal(new URL(world.issuer).protocol, 'https:');
    const alias = as.mtls_endpoint_aliases?.pushed_authorization_request_endpoint;
    assert.ok(alias, `mtls_endpoint_aliases: ${JSON.stringify(as.mtls_endpoint_aliases)}`);
    assert.equal(new URL(alias).origin, new URL(world.issuer).origin);
    assert.equal(as.tls_client_certificate_bound_access_tokens, true);
    assert.ok(as.token_endpoint_auth_methods_supported.includes('tls_client_auth'));
  }));

  test('PAR with tls_client_auth, JARM, and a certificate-bound token from the upstream that saw the certificate header', withLogs(async () => {
    const c = C();
    const { params, req } = await jarmCode();
    world.upstream.certificates.length = 0;
    const { tokens, claims } = await redeem(as, c, params, { codeVerifier: req.codeVerifier, nonce: req.nonce, options: withCert });
    assert.equal(claims.sub, world.subject.sub);

    // The token request reached the upstream with the gateway's certificate header.
    const token = world.upstream.certificates.find((r) => r.method === 'POST' && r.path.endsWith('/token'));
    assert.ok(token, `the upstream saw the token request: ${JSON.stringify(world.upstream.certificates.map((r) => r.path))}`);
    assert.ok(token.certificate, 'with the certificate header');
    assert.equal(pemOf(token.certificate), new X509Certificate(world.pki.client.cert).toString());

    // The upstream bound the access token to that certificate (RFC 8705 section 3.1).
    const at = await world.upstream.provider.AccessToken.find(tokens.access_token);
    assert.ok(at, 'the upstream knows the access token');
    assert.equal(at['x5t#S256'], world.pki.client.thumbprint);

    // A protected resource (the upstream's userinfo, through the gateway)
    // accepts it only with the certificate.
    const ok = await oauth.userInfoRequest(as, rpClient(c), tokens.access_token, withCert);
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).sub, world.subject.sub);
    const refused = await oauth.userInfoRequest(as, rpClient(c), tokens.access_token, noCert);
    await refused.arrayBuffer();
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /invalid_token/);
  }));

  test('PAR without a client certificate: 401 invalid_client at the gateway', withLogs(async () => {
    const c = C();
    const res = await pushRaw(as, c, { response_type: 'code', redirect_uri: c.redirectUri, scope: 'openid', response_mode: 'jwt' }, noCert);
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.equal(body.error, 'invalid_client');
    // And with it, the same request is accepted.
    const pushed = await push(as, c, { response_type: 'code', redirect_uri: c.redirectUri, scope: 'openid', response_mode: 'jwt' }, withCert);
    assert.match(pushed.request_uri, /^urn:ietf:params:oauth:request_uri:/);
  }));

  test('a token request without the certificate, carrying a forged certificate header, is refused by the upstream', withLogs(async () => {
    const { params, req } = await jarmCode();
    world.upstream.certificates.length = 0;
    const forged = {
      ...noCert,
      headers: new Headers({ 'x-ssl-client-cert': encodeURIComponent(world.pki.client.cert) }),
    };
    const r = await tokenRequest(params, req, forged);
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(r.body.error, 'invalid_client');
    const token = world.upstream.certificates.find((x) => x.method === 'POST' && x.path.endsWith('/token'));
    assert.ok(token, 'the request reached the upstream');
    assert.equal(token.certificate, undefined, 'the gateway removed the client\'s copy of the header');
    // The code is still good for the client with its certificate.
    const ok = await tokenRequest(params, req, withCert);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.ok(ok.body.access_token);
  }));
});
