// Runs the parjarm gateway binary as an operator would: configured only by
// PARJARM_* environment variables, ready when the admin /readyz says 200.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { stopProcess, tail, waitFor } from './net.mjs';

/** REPO_ROOT is the repository root (the parent of e2e/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** gatewayBinary is the gateway binary built by `go build -o bin/parjarm ./cmd/parjarm`. */
export function gatewayBinary() {
  return process.env.PARJARM_BIN ?? join(REPO_ROOT, 'bin', 'parjarm');
}

/**
 * startGateway starts one gateway replica and waits for readiness.
 *
 * options: { port, adminPort, upstreamUrl, issuer, clientsFile, signingKeysFile?,
 *            redisUrl?, env?, name?, onLine? }
 * Resolves to { name, url, adminUrl, env, logs(), stop(), child }.
 */
export async function startGateway({ port, adminPort, upstreamUrl, issuer, clientsFile, signingKeysFile, redisUrl, env = {}, name = 'gateway', onLine, readyTimeoutMs = 30000 }) {
  const bin = gatewayBinary();
  if (!existsSync(bin)) {
    throw new Error(`gateway binary ${bin} not found: build it with \`go build -o bin/parjarm ./cmd/parjarm\` from the repository root`);
  }
  const gwEnv = {
    PARJARM_UPSTREAM_URL: upstreamUrl,
    PARJARM_ISSUER: issuer,
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
  // Only PATH/HOME from the parent: no stray PARJARM_* settings leak in.
  const child = spawn(bin, [], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME ?? '/tmp', ...gwEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  const keep = (line) => {
    logs.push(line);
    if (logs.length > 400) logs.shift();
    onLine?.(line);
  };
  tail(child.stdout, 1, keep);
  tail(child.stderr, 1, keep);
  const spawnError = new Promise((_, reject) => child.once('error', (e) => reject(new Error(`cannot start ${bin}: ${e.message}`))));
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  try {
    await Promise.race([
      spawnError,
      waitFor(async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
        const r = await fetch(`${adminUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
        await r.arrayBuffer();
        return r.status === 200;
      }, { timeoutMs: readyTimeoutMs, intervalMs: 150, describe: () => `${name} ${adminUrl}/readyz to answer 200` }),
    ]);
  } catch (err) {
    await stopProcess(child, 1000);
    err.message += `\n--- ${name} log ---\n${logs.slice(-60).join('\n')}`;
    throw err;
  }
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    adminUrl,
    env: gwEnv,
    child,
    logs: () => logs.join('\n'),
    stop: () => stopProcess(child),
  };
}
