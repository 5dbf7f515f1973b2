// Runs the parjarm gateway binary as an operator would: configured only by
// PARJARM_* environment variables, ready when the admin /readyz says 200.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startService } from './net.mjs';

/** REPO_ROOT is the repository root (the parent of e2e/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** gatewayBinary is the gateway binary built by `go build -o bin/parjarm ./cmd/parjarm`. */
export function gatewayBinary() {
  return process.env.PARJARM_BIN ?? join(REPO_ROOT, 'bin', 'parjarm');
}

/**
 * startGateway starts one gateway replica and waits for readiness.
 *
 * options: { port, adminPort, upstreamUrl, issuer?, clientsFile, signingKeysFile?,
 *            redisUrl?, env?, name?, onLine?, tls? } (no issuer: no PARJARM_ISSUER,
 *            the gateway takes the upstream discovery's issuer; tls: the
 *            env configures a TLS listener, so url is https)
 * Resolves to { name, url, adminUrl, env, logs(), stop(), child }.
 */
export async function startGateway({ port, adminPort, upstreamUrl, issuer, clientsFile, signingKeysFile, redisUrl, env = {}, name = 'gateway', onLine, readyTimeoutMs = 30000, tls = false }) {
  const bin = gatewayBinary();
  if (!existsSync(bin)) {
    throw new Error(`gateway binary ${bin} not found: build it with \`go build -o bin/parjarm ./cmd/parjarm\` from the repository root`);
  }
  const gwEnv = {
    PARJARM_UPSTREAM_URL: upstreamUrl,
    ...(issuer ? { PARJARM_ISSUER: issuer } : {}),
    PARJARM_ALLOW_INSECURE_HTTP: 'true',
    PARJARM_LISTEN_ADDR: `127.0.0.1:${port}`,
    PARJARM_ADMIN_ADDR: `127.0.0.1:${adminPort}`,
    PARJARM_LOG_LEVEL: 'debug',
    PARJARM_LOG_FORMAT: 'console',
    ...(clientsFile ? { PARJARM_CLIENTS_FILE: clientsFile } : {}),
    ...(signingKeysFile ? { PARJARM_SIGNING_KEYS_FILE: signingKeysFile } : {}),
    ...(redisUrl ? { PARJARM_REDIS_URL: redisUrl } : {}),
    ...env,
  };
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  // Only PATH/HOME from the parent: no stray PARJARM_* settings leak in.
  const svc = await startService(bin, [], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME ?? '/tmp', ...gwEnv },
    name,
    onLine,
    timeoutMs: readyTimeoutMs,
    describe: () => `${name} ${adminUrl}/readyz to answer 200`,
    ready: async () => {
      const r = await fetch(`${adminUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      return r.status === 200;
    },
  });
  return {
    name,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    adminUrl,
    env: gwEnv,
    child: svc.child,
    logs: svc.logs,
    stop: svc.stop,
  };
}

/**
 * startReplicas starts count replicas with the same options (named gateway,
 * or gateway-A, gateway-B, ... when more than one) on ports[i] = { port,
 * admin }, pushing each one's stop onto started as soon as it runs (so a
 * failed start still stops the others). log (optional) gets each line
 * prefixed with the replica's name. Resolves to the replicas.
 */
export async function startReplicas(count, ports, { log, started, ...options }) {
  const gws = [];
  for (let i = 0; i < count; i++) {
    const name = count > 1 ? `gateway-${'ABCDEFGH'[i]}` : 'gateway';
    const gw = await startGateway({
      ...options,
      name,
      port: ports[i].port,
      adminPort: ports[i].admin,
      onLine: log ? (l) => log(`[${name}] ${l}`) : undefined,
    });
    started.push(() => gw.stop());
    gws.push(gw);
  }
  return gws;
}
