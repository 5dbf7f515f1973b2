// Issue 11, "Key rotation": the JARM signing key is rotated through reloads
// of the running gateway (SIGHUP, no restart) while oauth4webapi verifies
// the JARM responses with the key set it caches. oauth4webapi keeps a
// jwks_uri document per authorization server metadata object for five
// minutes and fetches it again early only when a kid is missing and the
// copy is at least a minute old, so within this test a client's copy is
// exactly what it fetched first: a stale cache shows as a failed
// validation. The steps are the operator's procedure of README.md ("Reload
// and key rotation"): add the new key as next → clients' caches pick it up
// → promote it and retire the old one → the old one is unpublished after
// its retire_after.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { discover, jarmParams, validateJarm } from '../lib/client.mjs';
import { CLIENTS } from '../lib/fixtures.mjs';
import { assertGatewayFronts, parFlow } from '../lib/flows.mjs';
import { gatewayBinary } from '../lib/gateway.mjs';
import { waitFor } from '../lib/net.mjs';
import { startWorld } from '../lib/world.mjs';

const OLD_KID = 'parjarm-rs256';
const NEW_KID = 'parjarm-rs256-2';

/** reloads reads parjarm_config_reload_total{result} from the admin listener. */
async function reloads(gw, result) {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  const m = text.match(new RegExp(`^parjarm_config_reload_total\\{result="${result}"\\} (\\d+)$`, 'm'));
  assert.ok(m, `no parjarm_config_reload_total{result="${result}"} in the metrics`);
  return Number(m[1]);
}

/** hup sends SIGHUP to the gateway process and waits until the reload is counted as result. */
async function hup(gw, result = 'success') {
  const before = await reloads(gw, result);
  gw.child.kill('SIGHUP');
  await waitFor(async () => (await reloads(gw, result)) > before, { timeoutMs: 10000, describe: () => `a ${result} reload after SIGHUP` });
}

/** publishedKids lists the kids the gateway's jwks_uri serves. */
async function publishedKids(as) {
  const set = await (await fetch(as.jwks_uri)).json();
  return set.keys.map((k) => k.kid);
}

describe('JARM signing key rotation through reloads, verified by oauth4webapi with a cached key set', () => {
  const s = {};
  before(async () => {
    s.world = await startWorld({ gateways: 1, redis: true, gatewayEnv: { PARJARM_RELOAD_INTERVAL: '0' } });
    s.as = await discover(s.world.issuer);
    assertGatewayFronts(s.as, s.world.issuer);
  });
  after(async () => {
    await s.world?.close();
  });
  const withLogs = (fn) => async (t) => {
    try {
      await fn(t);
    } catch (err) {
      if (s.world) t.diagnostic(s.world.logs());
      throw err;
    }
  };

  /** flow runs PAR + JARM for the RS256 client and returns { params, state, kid } without validating. */
  const flow = async () => {
    const c = s.world.clients[CLIENTS.basic];
    const f = await parFlow(s.as, c, { response_mode: 'jwt' });
    const params = jarmParams(f.result);
    const [h] = params.get('response').split('.');
    return { c, params, state: f.req.state, kid: JSON.parse(Buffer.from(h, 'base64url')).kid };
  };

  test('add next → promote → retire → unpublished, with no failed validation of a client whose cache is current', withLogs(async () => {
    const gw = s.world.gateway;
    const keysFile = s.world.signingKeysFile;
    const readKeys = () => JSON.parse(readFileSync(keysFile, 'utf8'));
    const writeKeys = (set) => writeFileSync(keysFile, JSON.stringify(set, null, 2), { mode: 0o600 });

    // A client that fetched the key set before the rotation began.
    const early = await discover(s.world.issuer);
    let r = await flow();
    assert.equal(r.kid, OLD_KID);
    await validateJarm(early, r.c, r.params, r.state);

    // 1. The operator generates the new key as next and adds it to the file.
    const generated = join(s.world.dir, 'new-key.json');
    execFileSync(gatewayBinary(), ['keys', 'generate', '--alg', 'RS256', '--kid', NEW_KID, '--status', 'next', '--out', generated]);
    const added = readKeys();
    added.keys.push(...JSON.parse(readFileSync(generated, 'utf8')).keys);
    writeKeys(added);
    await hup(gw);
    assert.deepEqual((await publishedKids(s.as)).filter((k) => k.startsWith('parjarm-rs256')), [OLD_KID, NEW_KID]);
    r = await flow();
    assert.equal(r.kid, OLD_KID, 'a next key does not sign');
    await validateJarm(early, r.c, r.params, r.state);

    // 2. Clients refresh their caches: this one fetches the set (old + next)
    //    with its first validation and keeps that copy from now on.
    const refreshed = await discover(s.world.issuer);
    r = await flow();
    await validateJarm(refreshed, r.c, r.params, r.state);
    // A response delivered just before the promotion, validated after it.
    const beforePromotion = await flow();
    assert.equal(beforePromotion.kid, OLD_KID);

    // 3. Promote: the new key active, the old one retired until shortly.
    const retireAfter = new Date(Math.ceil(Date.now() / 1000) * 1000 + 4000);
    const promoted = readKeys();
    for (const k of promoted.keys) {
      if (k.kid === NEW_KID) delete k.status;
      if (k.kid === OLD_KID) Object.assign(k, { status: 'retired', retire_after: retireAfter.toISOString().replace(/\.\d{3}Z$/, 'Z') });
    }
    writeKeys(promoted);
    await hup(gw);
    r = await flow();
    assert.equal(r.kid, NEW_KID, 'the promoted key signs');
    // The refreshed client's cached copy holds the new key: it verifies
    // without fetching again.
    await validateJarm(refreshed, r.c, r.params, r.state);
    // The response signed before the promotion still verifies for a client
    // that fetches the set now: the retired key is published.
    assert.ok((await publishedKids(s.as)).includes(OLD_KID), 'the retired key is published until its retire_after');
    await validateJarm(await discover(s.world.issuer), beforePromotion.c, beforePromotion.params, beforePromotion.state);
    // What step 2 is for: a client whose copy predates the next key cannot
    // verify the new key's responses until its cache expires.
    await assert.rejects(validateJarm(early, r.c, r.params, r.state), /no applicable keys found/);

    // 4. After retire_after the old key is no longer published, without a
    //    reload; the gateway signs with the new key.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, retireAfter.getTime() - Date.now()) + 200));
    const kids = await publishedKids(s.as);
    assert.ok(!kids.includes(OLD_KID), `the retired key is still published after its retire_after: ${kids}`);
    assert.ok(kids.includes(NEW_KID));
    r = await flow();
    assert.equal(r.kid, NEW_KID);
    await validateJarm(await discover(s.world.issuer), r.c, r.params, r.state);
    assert.equal(await reloads(gw, 'failure'), 0);
  }));

  test('a keys file that does not validate keeps the running keys; /readyz shows it and stays 200', withLogs(async () => {
    const gw = s.world.gateway;
    const keysFile = s.world.signingKeysFile;
    const good = readFileSync(keysFile, 'utf8');
    const broken = JSON.parse(good);
    for (const k of broken.keys) {
      k.status = 'next';
      delete k.retire_after;
    }
    writeFileSync(keysFile, JSON.stringify(broken), { mode: 0o600 });
    await hup(gw, 'failure');
    const ready = await fetch(`${gw.adminUrl}/readyz`);
    const body = await ready.text();
    assert.equal(ready.status, 200);
    assert.match(body, /^ready\nconfig reload failed at .*PARJARM_SIGNING_KEYS_FILE.*no active signing key/s);
    const r = await flow();
    assert.equal(r.kid, NEW_KID);
    await validateJarm(await discover(s.world.issuer), r.c, r.params, r.state);
    writeFileSync(keysFile, good, { mode: 0o600 });
    await hup(gw);
    assert.equal(await (await fetch(`${gw.adminUrl}/readyz`)).text(), 'ready\n');
  }));
});
