// The relying party side, built only from oauth4webapi calls, as an
// application using that library would write it. Loopback tests need
// oauth4webapi's allowInsecureRequests (it refuses http:// otherwise).
import * as oauth from 'oauth4webapi';

/** OPTS are the options every oauth4webapi request takes in this suite. */
export const OPTS = Object.freeze({ [oauth.allowInsecureRequests]: true });

/**
 * viaOrigin returns oauth4webapi options that send every request to
 * `origin` instead of the URL's own origin (scenario 7: the same metadata,
 * another replica).
 */
export function viaOrigin(origin) {
  return {
    ...OPTS,
    [oauth.customFetch]: (url, init) => {
      const u = new URL(url);
      const o = new URL(origin);
      u.protocol = o.protocol;
      u.host = o.host;
      return fetch(u, init);
    },
  };
}

/** discover fetches and validates the OIDC discovery document of issuer. */
export async function discover(issuer, options = OPTS) {
  const issuerUrl = new URL(issuer);
  const res = await oauth.discoveryRequest(issuerUrl, { ...options, algorithm: 'oidc' });
  return oauth.processDiscoveryResponse(issuerUrl, res);
}

/** rpClient is the oauth4webapi Client for a fixture client. */
export function rpClient(c) {
  const client = { client_id: c.id };
  // RFC 8705 section 5: an mTLS client uses the mtls_endpoint_aliases.
  if (c.useMtlsAliases) client.use_mtls_endpoint_aliases = true;
  if (c.jarmAlg) client.authorization_signed_response_alg = c.jarmAlg;
  return client;
}

/**
 * clientAuth is the oauth4webapi client authentication for a fixture client.
 * audience (optional) replaces the aud of a private_key_jwt assertion
 * (oauth4webapi sends the issuer) through oauth4webapi's modifyAssertion.
 */
export function clientAuth(c, { audience } = {}) {
  switch (c.authMethod) {
    case 'client_secret_basic':
      return oauth.ClientSecretBasic(c.secret);
    case 'private_key_jwt':
      return oauth.PrivateKeyJwt({ key: c.privateKey, kid: c.kid }, audience ? {
        [oauth.modifyAssertion]: (_header, payload) => {
          payload.aud = audience;
        },
      } : undefined);
    case 'none':
      return oauth.None();
    case 'tls_client_auth':
      // RFC 8705 section 2: client_id in the body, the certificate in the
      // TLS handshake (the customFetch's).
      return oauth.TlsClientAuth();
    default:
      throw new Error(`no client auth for ${c.authMethod}`);
  }
}

/**
 * newRequest returns fresh authorization parameters for client c with PKCE
 * (S256), state and nonce; extra overrides or adds parameters.
 */
export async function newRequest(c, extra = {}) {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const params = {
    client_id: c.id,
    redirect_uri: c.redirectUri,
    response_type: 'code',
    scope: 'openid email',
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) if (v === undefined) delete params[k];
  return { params, codeVerifier, state: params.state, nonce: params.nonce };
}

/** push sends a pushed authorization request and returns { request_uri, expires_in }. */
export async function push(as, c, params, options = OPTS) {
  const res = await oauth.pushedAuthorizationRequest(as, rpClient(c), clientAuth(c), params, options);
  return oauth.processPushedAuthorizationResponse(as, rpClient(c), res);
}

/** pushRaw sends a pushed authorization request and returns the raw Response. */
export function pushRaw(as, c, params, options = OPTS) {
  return oauth.pushedAuthorizationRequest(as, rpClient(c), clientAuth(c), params, options);
}

/** signedRequestObject signs params as a JAR request object with the client's key. */
export function signedRequestObject(as, c, params) {
  return oauth.issueRequestObject(as, rpClient(c), params, { key: c.privateKey, kid: c.kid });
}

/** authorizationUrl builds the authorization endpoint URL with the given parameters. */
export function authorizationUrl(as, params) {
  const u = new URL(as.authorization_endpoint);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u;
}

/**
 * jarmParams returns the URLSearchParams carrying the JARM `response` from
 * an agent result, wherever the mode put it (query, fragment, form post).
 */
export function jarmParams(result) {
  if (result.kind === 'form_post') return result.params;
  if (result.kind !== 'redirect') throw new Error(`expected a redirect or form post, got ${result.kind} ${result.status}: ${result.html?.slice(0, 300)}`);
  if (result.url.hash.length > 1) return new URLSearchParams(result.url.hash.slice(1));
  return result.url.searchParams;
}

/** validateJarm validates a JARM response with oauth4webapi and returns the plain parameters. */
export function validateJarm(as, c, params, expectedState, options = OPTS) {
  return oauth.validateJwtAuthResponse(as, rpClient(c), params, expectedState ?? oauth.expectNoState, options);
}

/**
 * redeem exchanges the code of callbackParams (already validated) at the
 * token endpoint, processes the response (ID Token claims, nonce), and
 * verifies the ID Token's signature through the discovery jwks_uri.
 * A client with tokenAssertionAudience 'token_endpoint' (ORY Hydra accepts
 * only its token endpoint URL as the audience of a client assertion) sends
 * that URL as aud. Returns { tokens, claims }.
 */
export async function redeem(as, c, callbackParams, { codeVerifier, nonce, options = OPTS } = {}) {
  const auth = clientAuth(c, { audience: c.tokenAssertionAudience === 'token_endpoint' ? as.token_endpoint : undefined });
  const res = await oauth.authorizationCodeGrantRequest(as, rpClient(c), auth, callbackParams, c.redirectUri, codeVerifier ?? oauth.nopkce, options);
  const tokens = await oauth.processAuthorizationCodeResponse(as, rpClient(c), res, { expectedNonce: nonce, requireIdToken: true });
  await oauth.validateApplicationLevelSignature(as, res, options);
  return { tokens, claims: oauth.getValidatedIdTokenClaims(tokens) };
}

/** decodeJwt returns { header, payload } of a compact JWS without verifying it. */
export function decodeJwt(jwt) {
  const [h, p] = jwt.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
  };
}

export { oauth };
