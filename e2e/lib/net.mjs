// Small process and network helpers shared by the suite and the demo.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

// handedOut are the ports freePort returned in this process: the kernel may
// give a port that was just closed again, and two listeners of one world
// (a gateway's public and admin ports) must differ.
const handedOut = new Set();

/** freePort asks the kernel for a free loopback TCP port, never one it returned before. */
export async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address();
        srv.close(() => resolve(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * waitFor polls fn until it returns a truthy value or the deadline passes.
 * describe() is called on timeout to explain what was being waited for.
 */
export async function waitFor(fn, { timeoutMs = 20000, intervalMs = 100, describe = () => 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    await delay(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}${lastError ? `: ${lastError.message}` : ''}`);
}

/**
 * stopProcess sends SIGTERM to a child process and waits for it to exit,
 * escalating to SIGKILL after graceMs.
 */
export async function stopProcess(child, graceMs = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** tail keeps the last n lines written to a stream, for failure messages. */
export function tail(stream, n = 60, onLine) {
  const lines = [];
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    for (const line of parts) {
      lines.push(line);
      if (lines.length > n) lines.shift();
      onLine?.(line);
    }
  });
  return () => [...lines, partial].filter(Boolean).join('\n');
}

/**
 * startService runs bin with args and env (and nothing else from the
 * parent), keeps its last 400 output lines (onLine sees each one) and waits
 * until ready() resolves truthy. If the process cannot start, exits, or is
 * not ready within timeoutMs, it is stopped and the error carries its last
 * log lines. Resolves to { child, logs(), stop() }.
 */
export async function startService(bin, args, { env, name, ready, describe, timeoutMs, intervalMs = 150, onLine }) {
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const keep = (line) => {
    lines.push(line);
    if (lines.length > 400) lines.shift();
    onLine?.(line);
  };
  tail(child.stdout, 1, keep);
  tail(child.stderr, 1, keep);
  const spawnError = new Promise((_, reject) => child.once('error', (e) => reject(new Error(`cannot start ${bin}: ${e.message}`))));
  try {
    await Promise.race([
      spawnError,
      waitFor(async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
        return ready();
      }, { timeoutMs, intervalMs, describe }),
    ]);
  } catch (err) {
    await stopProcess(child, 1000);
    err.message += `\n--- ${name} log ---\n${lines.slice(-60).join('\n')}`;
    throw err;
  }
  return { child, logs: () => lines.join('\n'), stop: () => stopProcess(child) };
}
