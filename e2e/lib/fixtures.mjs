// Clients, keys and the test user shared by the upstream, the gateway and the
// client side. One call to makeWorldConfig() produces matching registrations
// for the legacy upstream (oidc-provider client metadata) and for the gateway
// (its PARJARM_CLIENTS_FILE), so both sides always agree on ids, secrets,
// redirect URIs and keys.
import { generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto';

/** USER is the one account of the legacy upstream. */
export const USER = Object.freeze({
  username: 'alice',
  password: 'wonderland',
  sub: 'alice',
  email: 'alice@example.com',
  name: 'Alice Liddell',
});

/** Client ids, named after what each client demonstrates. */
export const CLIENTS = Object.freeze({
  basic: 'basic-client', // confidential, client_secret_basic, default JARM alg (RS256)
  jwt: 'jwt-client', // confidential, private_key_jwt (ES256 assertions), JAR, JARM PS256
  public: 'public-client', // public (none), PKCE, JARM ES256
  hybrid: 'hybrid-client', // confidential, response types code and "code id_token", JARM EdDSA
  parOnly: 'par-only-client', // confidential, require_pushed_authorization_requests
  logout: 'logout-client', // confidential, client_secret_basic; post_logout_redirect_uris and a backchannel_logout_uri at the upstream
  mtls: 'mtls-client', // only with makeWorldConfig's mtls: RFC 8705 tls_client_auth (SAN dNSName), certificate-bound tokens, JARM PS256
});

function secret() {
  return randomBytes(24).toString('base64url');
}

/**
 * signingKeys returns the gateway's JARM signing keys as a private JWK set:
 * one key per algorithm a client may register, the default RS256 key first.
 */
export function signingKeys() {
  const rsa = (kid, alg) => ({ ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' });
  return {
    keys: [
      rsa('parjarm-rs256', 'RS256'),
      rsa('parjarm-ps256', 'PS256'),
      { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'parjarm-es256', alg: 'ES256', use: 'sig' },
      { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'parjarm-eddsa', alg: 'EdDSA', use: 'sig' },
    ],
  };
}

/** upstreamKeys returns the legacy upstream's own (ID Token) signing keys. */
export function upstreamKeys() {
  return {
    keys: [
      { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'upstream-rs256', alg: 'RS256', use: 'sig' },
    ],
  };
}

/** publicJwks strips the private members of a JWK set. */
export function publicJwks(jwks) {
  const priv = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);
  return { keys: jwks.keys.map((k) => Object.fromEntries(Object.entries(k).filter(([n]) => !priv.has(n)))) };
}

/**
 * makeWorldConfig builds the clients for one run. callbackBase is the origin
 * of the suite's callback server (e.g. http://127.0.0.1:4321). With mtls
 * ({ sanDns }: the client certificate's dNSName) it adds CLIENTS.mtls, a
 * tls_client_auth client (RFC 8705 section 2.1) at both the gateway and the
 * upstream, whose access tokens the upstream binds to the certificate
 * (tls_client_certificate_bound_access_tokens, section 3); the upstream
 * needs its mTLS feature for that (startUpstream's mtls option).
 *
 * It returns:
 *   clients:  id -> { id, secret?, authMethod, redirectUri, privateKey?, kid?, jarmAlg? } (client side)
 *   upstream: oidc-provider client metadata array
 *   gateway:  the gateway's clients file object {clients: [...]}
 */
export async function makeWorldConfig(callbackBase, { mtls } = {}) {
  const { subtle } = webcrypto;
  const kp = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const jwtClientJwk = { ...(await subtle.exportKey('jwk', kp.publicKey)), kid: 'jwt-client-es256', alg: 'ES256', use: 'sig' };
  delete jwtClientJwk.key_ops;
  delete jwtClientJwk.ext;

  const cb = (name) => `${callbackBase}/cb/${name}`;
  const clients = {
    [CLIENTS.basic]: { id: CLIENTS.basic, secret: secret(), authMethod: 'client_secret_basic', redirectUri: cb('basic') },
    [CLIENTS.jwt]: {
      id: CLIENTS.jwt,
      authMethod: 'private_key_jwt',
      redirectUri: cb('jwt'),
      privateKey: kp.privateKey,
      kid: jwtClientJwk.kid,
      jwks: { keys: [jwtClientJwk] },
      jarmAlg: 'PS256',
    },
    [CLIENTS.public]: { id: CLIENTS.public, authMethod: 'none', redirectUri: cb('public'), jarmAlg: 'ES256' },
    [CLIENTS.hybrid]: {
      id: CLIENTS.hybrid,
      secret: secret(),
      authMethod: 'client_secret_basic',
      redirectUri: cb('hybrid'),
      responseTypes: ['code', 'code id_token'],
      jarmAlg: 'EdDSA',
    },
    [CLIENTS.parOnly]: { id: CLIENTS.parOnly, secret: secret(), authMethod: 'client_secret_basic', redirectUri: cb('par-only'), requirePar: true },
    [CLIENTS.logout]: {
      id: CLIENTS.logout,
      secret: secret(),
      authMethod: 'client_secret_basic',
      redirectUri: cb('logout'),
      // Logout registrations live at the upstream only: the gateway's
      // registry has no such fields, it passes logout through untouched.
      postLogoutRedirectUri: cb('logout-done'),
      backchannelLogoutUri: `${callbackBase}/backchannel/${CLIENTS.logout}`,
    },
  };
  if (mtls) {
    clients[CLIENTS.mtls] = {
      id: CLIENTS.mtls,
      authMethod: 'tls_client_auth',
      sanDns: mtls.sanDns,
      redirectUri: cb('mtls'),
      jarmAlg: 'PS256',
      useMtlsAliases: true,
    };
  }

  const upstream = Object.values(clients).map((c) => {
    const m = {
      client_id: c.id,
      token_endpoint_auth_method: c.authMethod,
      redirect_uris: [c.redirectUri],
      response_types: c.responseTypes ?? ['code'],
      grant_types: c.responseTypes?.some((t) => t.includes('id_token')) ? ['authorization_code', 'implicit', 'refresh_token'] : ['authorization_code', 'refresh_token'],
    };
    if (c.secret) m.client_secret = c.secret;
    if (c.jwks) {
      m.jwks = c.jwks;
      m.token_endpoint_auth_signing_alg = 'ES256';
    }
    // oidc-provider refuses http:// redirect URIs for web clients that use
    // the implicit grant (needed for "code id_token"); a native client may use
    // an http loopback redirect URI.
    if (m.grant_types.includes('implicit')) m.application_type = 'native';
    // OpenID Connect RP-Initiated Logout 1.0 section 3.1 and Back-Channel
    // Logout 1.0 section 2.2 client metadata.
    if (c.sanDns) {
      m.tls_client_auth_san_dns = c.sanDns;
      m.tls_client_certificate_bound_access_tokens = true;
    }
    if (c.postLogoutRedirectUri) m.post_logout_redirect_uris = [c.postLogoutRedirectUri];
    if (c.backchannelLogoutUri) {
      m.backchannel_logout_uri = c.backchannelLogoutUri;
      m.backchannel_logout_session_required = true;
    }
    return m;
  });

  const gateway = {
    clients: Object.values(clients).map((c) => {
      const g = {
        client_id: c.id,
        token_endpoint_auth_method: c.authMethod,
        redirect_uris: [c.redirectUri],
        par_lifetime: 60,
      };
      if (c.secret) g.client_secret = c.secret;
      if (c.jwks) g.jwks = c.jwks;
      if (c.responseTypes) g.response_types = c.responseTypes;
      if (c.jarmAlg) g.authorization_signed_response_alg = c.jarmAlg;
      if (c.requirePar) g.require_pushed_authorization_requests = true;
      if (c.sanDns) g.tls_client_auth_san_dns = c.sanDns;
      return g;
    }),
  };

  return { clients, upstream, gateway };
}
