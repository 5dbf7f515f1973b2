// A private redis-server for the suite, on a free loopback port, without
// persistence. Never the machine's shared Redis.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';

import { freePort, stopProcess, tail, waitFor } from './net.mjs';

function ping(port) {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let buf = '';
    sock.setTimeout(1000, () => sock.destroy());
    sock.on('error', () => resolve(false));
    sock.on('close', () => resolve(buf.startsWith('+PONG')));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n')) sock.end();
    });
  });
}

/** startRedis starts redis-server and resolves to { url, port, stop(), logs() }. */
export async function startRedis({ bin = process.env.REDIS_SERVER ?? 'redis-server' } = {}) {
  const port = await freePort();
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = tail(child.stdout);
  const err = tail(child.stderr);
  const spawnError = new Promise((_, reject) => child.once('error', (e) => reject(new Error(`cannot start ${bin}: ${e.message}`))));
  await Promise.race([
    spawnError,
    waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${err()}${out()}`);
      return ping(port);
    }, { timeoutMs: 10000, describe: () => `redis-server on port ${port}` }),
  ]);
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    logs: () => `${out()}\n${err()}`,
    stop: () => stopProcess(child),
  };
}
