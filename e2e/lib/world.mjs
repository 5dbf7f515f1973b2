// Starts everything a scenario needs: the client's callback server, the
// legacy upstream, optionally a private Redis, and one or more gateway
// replicas in front of the upstream. Used by the tests and by the demo.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { UserAgent } from '../agent.mjs';
import { startCallbackServer } from './callback.mjs';
import { makeWorldConfig, signingKeys, upstreamKeys, USER } from './fixtures.mjs';
import { startReplicas } from './gateway.mjs';
import { freePort } from './net.mjs';
import { CLIENT_SAN_DNS, makePKI, tlsFetch } from './pki.mjs';
import { startRedis } from './redis.mjs';
import { startUpstream } from '../upstream.mjs';

/**
 * startWorld options:
 *   gateways     number of gateway replicas (0 = upstream only; default 1)
 *   redis        start a private redis-server and point the gateways at it
 *   signingKeys  write a signing key file (default true; false = the
 *                gateway's ephemeral development key)
 *   gatewayEnv   extra PARJARM_* variables
 *   upstreamPKCE false = the upstream lacks PKCE (upstream.mjs withoutPKCE)
 *   log          (line) => void for upstream and gateway logs
 *   ports        optional fixed ports { gateway, admin, upstream, callback }
 *                (one replica only); any port left out is a free one
 *   issuerPath   e.g. '/realms/bank': the issuer is the gateway's URL + this
 *                path and the upstream is mounted under it (Keycloak-style;
 *                default '': both at the root)
 *   issuerPathVia how the gateway learns it (issuerPath only):
 *                'PARJARM_ISSUER' (default) sets PARJARM_ISSUER to the path
 *                issuer and PARJARM_UPSTREAM_URL to the upstream's root;
 *                'PARJARM_UPSTREAM_URL' sets only PARJARM_UPSTREAM_URL, to
 *                the upstream's URL + the path, and no PARJARM_ISSUER (the
 *                gateway reads the issuer from the upstream's discovery)
 *   tls          true: FAPI deployment with mutual TLS (RFC 8705). Test
 *                certificates (e2e/lib/pki.mjs makePKI) in the world's dir;
 *                the gateway listens with TLS (PARJARM_TLS_CERT_FILE,
 *                _KEY_FILE, _CLIENT_CA_FILE), so the issuer is https, and
 *                writes the client certificate into the upstream's
 *                X-SSL-Client-Cert header (PARJARM_UPSTREAM_CLIENT_CERT_HEADER,
 *                format nginx), where the upstream's mTLS feature reads it
 *                (upstream.mjs mtls); clients gain CLIENTS.mtls
 *                (tls_client_auth). The world then has pki, and
 *                tlsFetch(withCertificate) (a fetch that trusts the test CA
 *                and presents the client certificate when asked); user()
 *                trusts the test CA and presents none.
 *
 * Resolves to { issuer, upstreamUrl, gateways: [..], gateway, upstream,
 * redis?, callback, clients, subject, plainResponseKeys, user(opts),
 * interactions(agent), config, dir, logs(), close() }. The issuer is the
 * first replica's URL + issuerPath (the public URL every replica and the upstream
 * announce). user(opts) is a UserAgent signing in as USER (opts.decision
 * 'deny' presses Deny); interactions(agent) lists the upstream pages
 * ('login', 'consent') its last authorize filled in; plainResponseKeys are
 * the parameters of the upstream's own code response (sorted).
 * e2e/lib/hydra.mjs startHydraWorld resolves to the same interface, so
 * e2e/lib/scenarios.mjs runs against either upstream.
 */
export async function startWorld({ gateways = 1, redis = false, signingKeys: withKeys = true, gatewayEnv = {}, upstreamPKCE = true, log, ports: fixed = {}, issuerPath = '', issuerPathVia = 'PARJARM_ISSUER', tls = false } = {}) {
  if (!['PARJARM_ISSUER', 'PARJARM_UPSTREAM_URL'].includes(issuerPathVia)) throw new TypeError(`startWorld: issuerPathVia ${issuerPathVia}`);
  const dir = mkdtempSync(join(tmpdir(), 'parjarm-e2e-'));
  const started = [];
  const close = async () => {
    for (const s of started.reverse()) {
      await s().catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const callback = await startCallbackServer({ port: fixed.callback ?? 0 });
    started.push(() => callback.close());

    const ports = [];
    for (let i = 0; i < Math.max(gateways, 1); i++) {
      ports.push({ port: (i === 0 && fixed.gateway) || await freePort(), admin: (i === 0 && fixed.admin) || await freePort() });
    }
    const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${ports[0].port}${issuerPath}`;

    const pki = tls ? makePKI(dir) : undefined;
    const certHeader = 'X-SSL-Client-Cert';
    const config = await makeWorldConfig(callback.url, tls ? { mtls: { sanDns: CLIENT_SAN_DNS } } : {});
    const upstreamLog = [];
    const upstream = await startUpstream({
      port: fixed.upstream ?? 0,
      issuer,
      clients: config.upstream,
      jwks: upstreamKeys(),
      mountPath: issuerPath,
      pkce: upstreamPKCE,
      mtls: tls ? { header: certHeader, caPem: pki.ca.cert } : undefined,
      log: (l) => {
        upstreamLog.push(l);
        log?.(`[upstream] ${l}`);
      },
    });
    started.push(() => upstream.close());

    let redisServer;
    if (redis) {
      redisServer = await startRedis();
      started.push(() => redisServer.stop());
    }

    const clientsFile = join(dir, 'clients.json');
    writeFileSync(clientsFile, JSON.stringify(config.gateway, null, 2));
    let signingKeysFile;
    if (withKeys) {
      signingKeysFile = join(dir, 'signing-keys.json');
      writeFileSync(signingKeysFile, JSON.stringify(signingKeys(), null, 2), { mode: 0o600 });
    }

    const viaUpstreamUrl = issuerPath && issuerPathVia === 'PARJARM_UPSTREAM_URL';
    const gws = await startReplicas(gateways, ports, {
      upstreamUrl: viaUpstreamUrl ? `${upstream.url}${issuerPath}` : upstream.url,
      issuer: viaUpstreamUrl ? undefined : issuer,
      clientsFile,
      signingKeysFile,
      redisUrl: redisServer?.url,
      env: tls ? {
        PARJARM_TLS_CERT_FILE: pki.server.certFile,
        PARJARM_TLS_KEY_FILE: pki.server.keyFile,
        PARJARM_TLS_CLIENT_CA_FILE: pki.ca.certFile,
        PARJARM_UPSTREAM_CLIENT_CERT_HEADER: certHeader,
        PARJARM_UPSTREAM_CLIENT_CERT_HEADER_FORMAT: 'nginx',
        ...gatewayEnv,
      } : gatewayEnv,
      tls,
      log,
      started,
    });

    const worldFetch = (withCertificate = false) => tlsFetch({ ca: pki.ca.cert, ...(withCertificate ? { cert: pki.client.cert, key: pki.client.key } : {}) });
    return {
      issuer,
      upstreamUrl: upstream.url,
      subject: USER,
      plainResponseKeys: ['code', 'iss', 'state'],
      user: (opts = {}) => new UserAgent({ username: USER.username, password: USER.password, ...(tls ? { fetch: worldFetch(false) } : {}), ...opts }),
      pki,
      tlsFetch: tls ? worldFetch : undefined,
      interactions: (agent) => agent.pages.map((p) => p.kind),
      dir,
      callback,
      upstream,
      redis: redisServer,
      gateways: gws,
      gateway: gws[0],
      clients: config.clients,
      config,
      clientsFile,
      signingKeysFile,
      logs: () => [
        `--- upstream ---\n${upstreamLog.slice(-40).join('\n')}`,
        ...gws.map((g) => `--- ${g.name} ---\n${g.logs().split('\n').slice(-80).join('\n')}`),
      ].join('\n'),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
